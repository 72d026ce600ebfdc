#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "daemon/http/router.hpp"
#include "daemon/http/ui/ui_assets.hpp"
#include "daemon/http/ui/ui_response.hpp"

namespace ui = tracecol::http::ui;
using tracecol::http::Response;

namespace {

std::string read_source(const std::string& relative) {
  const char* root = std::getenv("TRACECOL_SOURCE_DIR");
  REQUIRE(root != nullptr);
  std::ifstream in(std::string(root) + "/" + relative, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string header(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace

TEST_SUITE("http ui assets") {
  TEST_CASE("serves index.html at / and each file under /ui/ with its content type") {
    const ui::UiAsset* index = ui::find_ui_asset("/");
    REQUIRE(index != nullptr);
    CHECK(index->path == "/ui/index.html");
    CHECK(index->content_type == "text/html; charset=utf-8");
    const ui::UiAsset* js = ui::find_ui_asset("/ui/app.js");
    REQUIRE(js != nullptr);
    CHECK(js->content_type == "text/javascript; charset=utf-8");
    const ui::UiAsset* css = ui::find_ui_asset("/ui/style.css");
    REQUIRE(css != nullptr);
    CHECK(css->content_type == "text/css; charset=utf-8");
    const ui::UiAsset* icon = ui::find_ui_asset("/ui/favicon.svg");
    REQUIRE(icon != nullptr);
    CHECK(icon->content_type == "image/svg+xml");
  }

  TEST_CASE("finds nothing for other paths") {
    CHECK(ui::find_ui_asset("/ui/") == nullptr);
    CHECK(ui::find_ui_asset("/ui/missing.js") == nullptr);
    CHECK(ui::find_ui_asset("/app.js") == nullptr);
    CHECK(ui::find_ui_asset("/ui/app.js/") == nullptr);
    CHECK(ui::find_ui_asset("") == nullptr);
    CHECK(ui::find_ui_asset("/UI/app.js") == nullptr);
  }

  TEST_CASE("embeds each file byte for byte with a distinct quoted ETag") {
    std::vector<std::string> etags;
    for (const ui::UiAsset& asset : ui::ui_assets()) {
      CAPTURE(asset.path);
      REQUIRE(asset.path.starts_with("/ui/"));
      const std::string on_disk = read_source("daemon/http/ui/" + std::string(asset.path.substr(4)));
      CHECK(asset.body.size() == on_disk.size());
      CHECK(asset.body == on_disk);
      CHECK(asset.etag.size() == 18);
      CHECK(asset.etag.front() == '"');
      CHECK(asset.etag.back() == '"');
      for (const auto& other : etags) CHECK(other != asset.etag);
      etags.emplace_back(asset.etag);
    }
    CHECK(etags.size() == 4);
  }

  TEST_CASE("index.html loads only embedded same-origin files and has no inline script") {
    const std::string html(ui::find_ui_asset("/")->body);
    int references = 0;
    for (const std::string attribute : {" src=\"", " href=\""}) {
      for (std::size_t at = html.find(attribute); at != std::string::npos; at = html.find(attribute, at + 1)) {
        const std::size_t begin = at + attribute.size();
        const std::string target = html.substr(begin, html.find('"', begin) - begin);
        CAPTURE(target);
        if (target.starts_with("#")) continue;  // in-page links (the router)
        CHECK(ui::find_ui_asset(target) != nullptr);
        ++references;
      }
    }
    CHECK(references == 3);  // favicon, style.css, app.js
    // Every <script> has a src (the CSP forbids inline script); no on* handler attributes.
    int scripts = 0;
    for (std::size_t at = html.find("<script"); at != std::string::npos; at = html.find("<script", at + 1)) {
      const std::string tag = html.substr(at, html.find('>', at) - at);
      CAPTURE(tag);
      CHECK(tag.find(" src=\"/ui/") != std::string::npos);
      ++scripts;
    }
    CHECK(scripts == 1);
    for (std::size_t at = html.find(" on"); at != std::string::npos; at = html.find(" on", at + 1)) {
      std::size_t end = at + 3;
      while (end < html.size() && html[end] >= 'a' && html[end] <= 'z') ++end;
      CHECK_FALSE((end < html.size() && html[end] == '='));
    }
    CHECK(html.find("http://") == std::string::npos);
    CHECK(html.find("https://") == std::string::npos);
  }

  TEST_CASE("app.js never writes HTML from data") {
    const std::string js(ui::find_ui_asset("/ui/app.js")->body);
    CHECK(js.find(".innerHTML") == std::string::npos);
    CHECK(js.find(".outerHTML") == std::string::npos);
    CHECK(js.find("insertAdjacentHTML") == std::string::npos);
    CHECK(js.find("document.write") == std::string::npos);
    CHECK(js.find("eval(") == std::string::npos);
  }

  TEST_CASE("matches If-None-Match lists, weak tags and the wildcard") {
    const std::string_view tag = "\"0123456789abcdef\"";
    CHECK(ui::etag_matches("\"0123456789abcdef\"", tag));
    CHECK(ui::etag_matches("W/\"0123456789abcdef\"", tag));
    CHECK(ui::etag_matches("\"aaaa\", \"0123456789abcdef\"", tag));
    CHECK(ui::etag_matches(" \"aaaa\" ,\t\"0123456789abcdef\" ", tag));
    CHECK(ui::etag_matches("*", tag));
    CHECK_FALSE(ui::etag_matches("\"aaaa\"", tag));
    CHECK_FALSE(ui::etag_matches("0123456789abcdef", tag));
    CHECK_FALSE(ui::etag_matches("", tag));
    CHECK_FALSE(ui::etag_matches(",,,", tag));
    CHECK_FALSE(ui::etag_matches("\"0123456789abcdef", tag));
  }

  TEST_CASE("answers an asset with caching and security headers") {
    const Response r = ui::ui_response("/", "");
    CHECK(r.status == 200);
    CHECK(r.content_type == "text/html; charset=utf-8");
    CHECK(r.body == ui::find_ui_asset("/")->body);
    CHECK(header(r, "ETag") == ui::find_ui_asset("/")->etag);
    CHECK(header(r, "Cache-Control") == "no-cache");
    CHECK(header(r, "X-Content-Type-Options") == "nosniff");
    const std::string csp = header(r, "Content-Security-Policy");
    CHECK(csp.find("default-src 'self'") != std::string::npos);
    CHECK(csp.find("script-src 'self';") != std::string::npos);
    CHECK(csp.find("unsafe-inline") == std::string::npos);
    CHECK(csp.find("unsafe-eval") == std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  }

  TEST_CASE("answers 304 without a body when If-None-Match names the ETag") {
    const ui::UiAsset* js = ui::find_ui_asset("/ui/app.js");
    const Response same = ui::ui_response("/ui/app.js", js->etag);
    CHECK(same.status == 304);
    CHECK(same.body.empty());
    CHECK(header(same, "ETag") == js->etag);
    CHECK(header(same, "Cache-Control") == "no-cache");
    const Response other = ui::ui_response("/ui/app.js", ui::find_ui_asset("/")->etag);
    CHECK(other.status == 200);
    CHECK(other.body == js->body);
  }

  TEST_CASE("answers 404 JSON for an unknown asset") {
    const Response r = ui::ui_response("/ui/nope.js", "");
    CHECK(r.status == 404);
    CHECK(r.content_type == "application/json");
    CHECK(r.headers.empty());
  }

  TEST_CASE("routes / and /ui/ paths for GET and HEAD only") {
    using tracecol::http::route;
    using tracecol::http::Route;
    auto root = route("GET", "/");
    CHECK(root.route == Route::ui);
    CHECK(root.param == "/");
    CHECK(root.method_allowed);
    CHECK(tracecol::http::route_label(Route::ui) == "ui");
    auto head = route("HEAD", "/ui/app.js");
    CHECK(head.route == Route::ui);
    CHECK(head.param == "/ui/app.js");
    CHECK(head.method_allowed);
    auto post = route("POST", "/");
    CHECK(post.route == Route::ui);
    CHECK_FALSE(post.method_allowed);
    CHECK(post.allow == "GET, HEAD");
    CHECK(route("GET", "/uix").route == Route::not_found);
    CHECK(route("HEAD", "/api/stream").method_allowed == false);  // the one GET route without HEAD
  }
}
