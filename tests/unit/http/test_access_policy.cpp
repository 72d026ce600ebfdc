#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "daemon/http/access_policy.hpp"

namespace h = tracecol::http;

namespace {

std::string header(const h::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

bool has_header(const h::AccessVerdict& v, std::string_view name) {
  for (const auto& [n, value] : v.headers)
    if (n == name) return true;
  return false;
}

h::AccessRequest get(h::Route route = h::Route::traces) {
  h::AccessRequest r;
  r.method = "GET";
  r.route = route;
  r.host = "127.0.0.1:4318";
  return r;
}

h::AccessPolicy with_token(std::string token = "s3cret-token-0123456789") {
  h::AccessOptions o;
  o.token = std::move(token);
  o.cookie_name = "tracecol_token_4318";
  return h::AccessPolicy(o);
}

/** A file in /tmp with the given text and mode, removed at scope end. */
struct TempFile {
  TempFile(const std::string& text, mode_t mode) {
    char tmpl[] = "/tmp/tracecol_token_XXXXXX";
    const int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    path = tmpl;
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::fchmod(fd, mode);
    ::close(fd);
  }
  ~TempFile() { ::unlink(path.c_str()); }
  std::string path;
};

}  // namespace

TEST_SUITE("http access policy") {
  TEST_CASE("constant_time_equal matches only the exact token") {
    CHECK(h::constant_time_equal("abc", "abc"));
    CHECK_FALSE(h::constant_time_equal("abc", "abd"));
    CHECK_FALSE(h::constant_time_equal("abc", "ab"));
    CHECK_FALSE(h::constant_time_equal("abc", "abcd"));
    CHECK_FALSE(h::constant_time_equal("abc", ""));
    CHECK_FALSE(h::constant_time_equal("abc", std::string_view("abc\0", 4)));
  }

  TEST_CASE("host_of strips the port, brackets, case and a trailing dot") {
    CHECK(h::host_of("LocalHost:4318") == "localhost");
    CHECK(h::host_of("[::1]:4318") == "::1");
    CHECK(h::host_of("example.com.") == "example.com");
    CHECK(h::host_of(" 10.0.0.7 ") == "10.0.0.7");
  }

  TEST_CASE("loopback names and IP literals pass the Host check by default, other names do not") {
    const h::AccessPolicy p{h::AccessOptions{}};
    for (const char* host : {"localhost", "localhost:4318", "127.0.0.1:4318", "[::1]:4318", "10.1.2.3:4318",
                             "app.localhost:9", "LOCALHOST."}) {
      auto r = get();
      r.host = host;
      CAPTURE(host);
      CHECK_FALSE(p.check(r).answer);
    }
    for (const char* host : {"evil.example", "evil.example:4318", "127.0.0.1.evil.example", "localhost.evil.example",
                             "[::1", "a b"}) {
      auto r = get();
      r.host = host;
      CAPTURE(host);
      const auto v = p.check(r);
      REQUIRE(v.answer);
      CHECK(v.answer->status == 403);
      CHECK(v.refusal == h::AccessRefusal::host);
      CHECK(v.answer->body.find("\"error\"") != std::string::npos);
    }
  }

  TEST_CASE("--http-allowed-host adds names at any port, probes and Unix sockets skip the Host check") {
    h::AccessOptions o;
    o.allowed_hosts = {"Tracecol.Example:8080"};
    const h::AccessPolicy p(o);
    auto r = get();
    r.host = "tracecol.example:4318";
    CHECK_FALSE(p.check(r).answer);
    r.host = "other.example";
    CHECK(p.check(r).answer);
    r.route = h::Route::healthz;
    CHECK_FALSE(p.check(r).answer);
    r.route = h::Route::readyz;  // checked like any route
    CHECK(p.check(r).answer);
    r.host = "10.1.2.3:4318";      // the kubelet's Host: the pod IP
    CHECK_FALSE(p.check(r).answer);
    o.check_host = false;
    r.route = h::Route::traces;
    CHECK_FALSE(h::AccessPolicy(o).check(r).answer);
  }

  TEST_CASE("Sec-Fetch-Site: cross-site is refused, same-origin, same-site and none pass") {
    const h::AccessPolicy p{h::AccessOptions{}};
    auto r = get();
    for (const char* site : {"same-origin", "same-site", "none", ""}) {
      r.sec_fetch_site = site;
      CHECK_FALSE(p.check(r).answer);
    }
    r.sec_fetch_site = "cross-site";
    const auto v = p.check(r);
    REQUIRE(v.answer);
    CHECK(v.answer->status == 403);
    CHECK(v.refusal == h::AccessRefusal::cross_site);
  }

  TEST_CASE("no CORS headers unless origins are configured, then only for an exact match") {
    auto r = get();
    r.origin = "https://grafana.example";
    r.sec_fetch_site = "cross-site";
    CHECK(h::AccessPolicy{h::AccessOptions{}}.check(r).headers.empty());

    h::AccessOptions o;
    o.cors_origins = {"https://Grafana.example/"};
    const h::AccessPolicy p(o);
    auto v = p.check(r);
    CHECK_FALSE(v.answer);  // a listed origin may call cross-site
    REQUIRE(v.headers.size() == 2);
    CHECK(v.headers[0] == std::pair<std::string, std::string>{"Vary", "Origin"});
    CHECK(v.headers[1] == std::pair<std::string, std::string>{"Access-Control-Allow-Origin", "https://grafana.example"});

    for (const char* other : {"https://grafana.example.evil", "http://grafana.example", "https://grafana.example:444",
                              "null"}) {
      r.origin = other;
      v = p.check(r);
      CAPTURE(other);
      CHECK_FALSE(has_header(v, "Access-Control-Allow-Origin"));
      REQUIRE(v.answer);  // and, cross-site, it is refused
      CHECK(v.refusal == h::AccessRefusal::cross_site);
    }
  }

  TEST_CASE("a CORS preflight from a listed origin is answered before auth, others get 403") {
    h::AccessOptions o;
    o.token = "s3cret-token-0123456789";
    o.cors_origins = {"https://grafana.example"};
    const h::AccessPolicy p(o);
    auto r = get();
    r.method = "OPTIONS";
    r.origin = "https://grafana.example";
    r.access_control_request_method = "POST";
    r.sec_fetch_site = "cross-site";
    auto v = p.check(r);
    REQUIRE(v.answer);
    CHECK(v.answer->status == 204);
    CHECK_FALSE(v.refusal);
    CHECK(header(*v.answer, "Access-Control-Allow-Origin") == "https://grafana.example");
    CHECK(header(*v.answer, "Access-Control-Allow-Headers").find("Authorization") != std::string::npos);
    CHECK(header(*v.answer, "Access-Control-Allow-Methods") == "GET, HEAD, POST");
    r.origin = "https://evil.example";
    v = p.check(r);
    REQUIRE(v.answer);
    CHECK(v.answer->status == 403);
    CHECK(v.refusal == h::AccessRefusal::origin);
    CHECK(header(*v.answer, "Access-Control-Allow-Origin").empty());
  }

  TEST_CASE("with a token every route but the probes needs it") {
    const auto p = with_token();
    for (auto route : {h::Route::traces, h::Route::trace, h::Route::metrics, h::Route::spans, h::Route::v1_traces,
                       h::Route::stream, h::Route::ui, h::Route::run, h::Route::not_found}) {
      auto v = p.check(get(route));
      REQUIRE(v.answer);
      CHECK(v.answer->status == 401);
      CHECK(v.refusal == h::AccessRefusal::missing_token);
      CHECK(header(*v.answer, "WWW-Authenticate") == "Bearer realm=\"tracecol\"");
      CHECK(v.answer->body.find("s3cret") == std::string::npos);
    }
    CHECK_FALSE(p.check(get(h::Route::healthz)).answer);
    auto ready = p.check(get(h::Route::readyz));  // only /healthz goes without the token
    REQUIRE(ready.answer);
    CHECK(ready.answer->status == 401);
  }

  TEST_CASE("the bearer token or the UI cookie lets a request in, a wrong one is bad_token") {
    const auto p = with_token();
    auto r = get();
    r.authorization = "Bearer s3cret-token-0123456789";
    CHECK_FALSE(p.check(r).answer);
    r.authorization = "bearer   s3cret-token-0123456789 ";
    CHECK_FALSE(p.check(r).answer);
    for (const char* bad : {"Bearer s3cret-token-012345678", "Bearer s3cret-token-01234567890", "Basic czNjcmV0",
                            "s3cret-token-0123456789", "Bearer"}) {
      r.authorization = bad;
      CAPTURE(bad);
      const auto v = p.check(r);
      REQUIRE(v.answer);
      CHECK(v.answer->status == 401);
      CHECK(v.refusal == h::AccessRefusal::bad_token);
      CHECK(header(*v.answer, "WWW-Authenticate").find("invalid_token") != std::string::npos);
    }
    r.authorization = {};
    r.cookie = "theme=dark; tracecol_token_4318=s3cret-token-0123456789";
    CHECK_FALSE(p.check(r).answer);
    r.cookie = "tracecol_token_4318=old-token";
    CHECK(p.check(r).refusal == h::AccessRefusal::bad_token);
    r.cookie = "tracecol_token_9999=s3cret-token-0123456789";  // another daemon's cookie
    CHECK(p.check(r).refusal == h::AccessRefusal::missing_token);
  }

  TEST_CASE("?token= on the UI sets an HttpOnly SameSite=Strict cookie and redirects to /") {
    const auto p = with_token();
    auto r = get(h::Route::ui);
    const std::string good = "s3cret-token-0123456789";
    r.token_param = &good;
    auto v = p.check(r);
    REQUIRE(v.answer);
    CHECK(v.answer->status == 303);
    CHECK(header(*v.answer, "Location") == "/");
    CHECK(header(*v.answer, "Set-Cookie") == "tracecol_token_4318=s3cret-token-0123456789; Path=/; HttpOnly; SameSite=Strict");
    CHECK(header(*v.answer, "Cache-Control") == "no-store");
    const std::string wrong = "guess";
    r.token_param = &wrong;
    v = p.check(r);
    REQUIRE(v.answer);
    CHECK(v.answer->status == 401);
    CHECK(v.refusal == h::AccessRefusal::bad_token);
    // Only the UI signs in: ?token= elsewhere is no credential.
    auto api = get(h::Route::traces);
    api.token_param = &good;
    CHECK(p.check(api).refusal == h::AccessRefusal::missing_token);
    // Nor from another site (login CSRF).
    r.token_param = &good;
    r.sec_fetch_site = "cross-site";
    CHECK(p.check(r).refusal == h::AccessRefusal::cross_site);
  }

  TEST_CASE("normalize_origin accepts scheme://host[:port] only") {
    CHECK(h::normalize_origin("HTTPS://Grafana.Example:3000/") == "https://grafana.example:3000");
    CHECK(h::normalize_origin("http://[::1]:8080") == "http://[::1]:8080");
    CHECK_FALSE(h::normalize_origin("*"));
    CHECK_FALSE(h::normalize_origin("null"));
    CHECK_FALSE(h::normalize_origin("https://a.example/path"));
    CHECK_FALSE(h::normalize_origin("ftp://a.example"));
    CHECK_FALSE(h::normalize_origin("https://"));
    CHECK_FALSE(h::normalize_origin("https://a.example\r\nSet-Cookie: x=1"));
  }

  TEST_CASE("read_token_file trims the newline, refuses empty or odd files, warns when others may read it") {
    {
      TempFile f("abcdef0123456789abcdef\n", 0600);
      const auto t = h::read_token_file(f.path);
      CHECK(t.error.empty());
      CHECK(t.token == "abcdef0123456789abcdef");
      CHECK(t.warnings.empty());
    }
    {
      TempFile f("abcdef0123456789abcdef", 0644);
      const auto t = h::read_token_file(f.path);
      CHECK(t.error.empty());
      REQUIRE(t.warnings.size() == 1);
      CHECK(t.warnings[0].find("0644") != std::string::npos);
      CHECK(t.warnings[0].find("abcdef") == std::string::npos);
    }
    {
      TempFile f("short", 0600);
      const auto t = h::read_token_file(f.path);
      CHECK(t.error.empty());
      CHECK(t.warnings.size() == 1);
    }
    for (const char* bad : {"", " \n\n", "two words\n", "a;b", "line1\nline2"}) {
      TempFile f(bad, 0600);
      const auto t = h::read_token_file(f.path);
      CAPTURE(bad);
      CHECK_FALSE(t.error.empty());
      CHECK(t.token.empty());
    }
    CHECK_FALSE(h::read_token_file("/nonexistent/token").error.empty());
    CHECK_FALSE(h::read_token_file("/tmp").error.empty());
  }

  TEST_CASE("refusal reasons have fixed names") {
    CHECK(h::to_string(h::AccessRefusal::host) == "host");
    CHECK(h::to_string(h::AccessRefusal::cross_site) == "cross_site");
    CHECK(h::to_string(h::AccessRefusal::origin) == "origin");
    CHECK(h::to_string(h::AccessRefusal::missing_token) == "missing_token");
    CHECK(h::to_string(h::AccessRefusal::bad_token) == "bad_token");
  }
}
