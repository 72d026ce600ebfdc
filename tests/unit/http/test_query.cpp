#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "daemon/http/query.hpp"

using namespace tracecol;
using tracecol::http::parse_list_query;
using tracecol::http::parse_target;

TEST_SUITE("http query") {
  TEST_CASE("splits the path from percent-decoded query parameters") {
    auto t = parse_target("/api/traces?name=llm%20call&run_id=r+1&limit=5");
    REQUIRE(t.value);
    CHECK(t.value->path == "/api/traces");
    REQUIRE(t.value->params.size() == 3);
    CHECK(*t.value->param("name") == "llm call");
    CHECK(*t.value->param("run_id") == "r 1");
    CHECK(*t.value->param("limit") == "5");
    CHECK(t.value->param("kind") == nullptr);
  }

  TEST_CASE("refuses targets holding dot-dot, NUL or bad escapes") {
    CHECK_FALSE(parse_target("/api/../etc/passwd").value);
    CHECK_FALSE(parse_target("/api/%2e%2e/x").value);
    CHECK_FALSE(parse_target("/api/.%2E/x").value);
    CHECK_FALSE(parse_target("/api/traces/..").value);
    CHECK_FALSE(parse_target("/api/traces?name=a%00b").value);
    CHECK_FALSE(parse_target(std::string_view("/api\0x", 6)).value);
    CHECK_FALSE(parse_target("/api/traces?name=%zz").value);
    CHECK_FALSE(parse_target("/api/traces?name=%4").value);
    CHECK_FALSE(parse_target("").value);
    CHECK_FALSE(parse_target("http://host/api/../x").value);
    CHECK_FALSE(parse_target("ftp://host/api").value);
    CHECK_FALSE(parse_target("*").value);
  }

  TEST_CASE("takes the absolute form a proxy sends and routes its path and query") {
    auto t = parse_target("http://127.0.0.1:4318/api/traces?limit=5");
    REQUIRE(t.value);
    CHECK(t.value->raw_path == "/api/traces");
    CHECK(*t.value->param("limit") == "5");
    auto upper = parse_target("HTTPS://collector.example/v1/traces");
    REQUIRE(upper.value);
    CHECK(upper.value->path == "/v1/traces");
    auto bare = parse_target("http://host:4318");
    REQUIRE(bare.value);
    CHECK(bare.value->path == "/");
  }

  TEST_CASE("dots in the query or inside a path segment are text, not a traversal") {
    auto t = parse_target("/api/traces?q=Loading...&name=a..b&meta.x=..");
    REQUIRE(t.value);
    CHECK(*t.value->param("q") == "Loading...");
    CHECK(*t.value->param("name") == "a..b");
    CHECK(*t.value->param("meta.x") == "..");
    CHECK(parse_target("/api/stream?q=...").value);
    auto p = parse_target("/api/runs/a..b");
    REQUIRE(p.value);
    CHECK(p.value->path == "/api/runs/a..b");
    CHECK(parse_target("/api/runs/...").value);
  }

  TEST_CASE("reads every list filter") {
    auto t = parse_target("/api/traces?limit=7&run_id=r&name=n&kind=llm&error=true&min_duration_ms=2.5"
                          "&since=1732500000&until=1732500001.5&cursor=ab");
    REQUIRE(t.value);
    auto q = parse_list_query(*t.value);
    REQUIRE(q.value);
    const auto& f = q.value->filter;
    CHECK(f.limit == 7);
    CHECK(f.run_id == "r");
    CHECK(f.name == "n");
    REQUIRE(f.kind);
    CHECK(*f.kind == protocol::SpanKind::llm);
    REQUIRE(f.has_error);
    CHECK(*f.has_error);
    REQUIRE(f.min_duration_ms);
    CHECK(*f.min_duration_ms == doctest::Approx(2.5));
    CHECK(f.since_ns == 1732500000000000000LL);
    CHECK(f.until_ns == 1732500001500000000LL);
    REQUIRE(q.value->cursor);
    CHECK(q.value->cursor->lo == 0xab);
  }

  TEST_CASE("defaults the limit to 20 and leaves unset filters open") {
    auto t = parse_target("/api/traces");
    auto q = parse_list_query(*t.value);
    REQUIRE(q.value);
    CHECK(q.value->filter.limit == 20);
    CHECK_FALSE(q.value->filter.kind);
    CHECK_FALSE(q.value->filter.has_error);
    CHECK_FALSE(q.value->cursor);
    CHECK(q.value->filter.since_ns == std::numeric_limits<std::int64_t>::min());
    CHECK(q.value->filter.until_ns == std::numeric_limits<std::int64_t>::max());
  }

  TEST_CASE("refuses out-of-range or malformed parameters with a reason") {
    for (const char* bad : {"limit=0", "limit=1001", "limit=x", "limit=-1", "kind=robot", "error=yes",
                            "min_duration_ms=-1", "min_duration_ms=nan", "since=abc", "until=1e30", "cursor=zz",
                            "cursor=0"}) {
      CAPTURE(bad);
      auto t = parse_target(std::string("/api/traces?") + bad);
      REQUIRE(t.value);
      auto q = parse_list_query(*t.value);
      CHECK_FALSE(q.value);
      CHECK_FALSE(q.error.empty());
    }
    auto t = parse_target("/api/traces?limit=1000&error=false");
    auto q = parse_list_query(*t.value);
    REQUIRE(q.value);
    CHECK(q.value->filter.limit == 1000);
    CHECK_FALSE(*q.value->filter.has_error);
  }
}
