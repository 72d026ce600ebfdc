#include <doctest/doctest.h>

#include "daemon/export/http/url.hpp"

namespace eh = tracecol::exporters::http;

TEST_SUITE("export http url") {
  TEST_CASE("reads scheme, host, port and target with the scheme's default port") {
    auto u = eh::parse_url("http://collector:4318/v1/traces");
    REQUIRE(u.has_value());
    CHECK_FALSE(u->tls);
    CHECK(u->host == "collector");
    CHECK(u->port == "4318");
    CHECK(u->target == "/v1/traces");
    CHECK(u->host_header == "collector:4318");
    auto s = eh::parse_url("https://example.com");
    REQUIRE(s.has_value());
    CHECK(s->tls);
    CHECK(s->port == "443");
    CHECK(s->target == "/");
    auto q = eh::parse_url("http://h?x=1");
    REQUIRE(q.has_value());
    CHECK(q->target == "/?x=1");
    CHECK(q->port == "80");
  }

  TEST_CASE("keeps IPv6 literals bracketed in the Host header only") {
    auto u = eh::parse_url("http://[::1]:9000/x");
    REQUIRE(u.has_value());
    CHECK(u->host == "::1");
    CHECK(u->port == "9000");
    CHECK(u->host_header == "[::1]:9000");
  }

  TEST_CASE("refuses other schemes, credentials, bad ports and control bytes") {
    std::string why;
    CHECK_FALSE(eh::parse_url("ftp://h/", &why).has_value());
    CHECK(why.find("http://") != std::string::npos);
    CHECK_FALSE(eh::parse_url("http://user:secret@h/", &why).has_value());
    CHECK(why.find("secret") == std::string::npos);
    CHECK_FALSE(eh::parse_url("http://h:0/").has_value());
    CHECK_FALSE(eh::parse_url("http://h:70000/").has_value());
    CHECK_FALSE(eh::parse_url("http://h:x/").has_value());
    CHECK_FALSE(eh::parse_url("http:///path").has_value());
    CHECK_FALSE(eh::parse_url("http://h/a b").has_value());
    CHECK_FALSE(eh::parse_url("http://h/a\r\nX: y").has_value());
  }

  TEST_CASE("a URL in a message shows no userinfo") {
    CHECK(eh::url_for_log("https://u:p@h:1/x@y?z") == "https://***@h:1/x@y?z");
    CHECK(eh::url_for_log("http://a@b@h/") == "http://***@h/");
    CHECK(eh::url_for_log("http://h:4318/v1/traces") == "http://h:4318/v1/traces");
    CHECK(eh::url_for_log("not a url") == "not a url");
  }
}
