#include <doctest/doctest.h>

#include "daemon/http/query.hpp"

using namespace tracecol;
using tracecol::http::parse_list_query;
using tracecol::http::parse_stream_query;
using tracecol::http::parse_target;

TEST_SUITE("http stream query") {
  TEST_CASE("reads q and repeated meta.KEY filters on /api/traces") {
    auto t = parse_target("/api/traces?q=needle%20x&meta.user=alice&meta.tier=gold+plus&meta.a.b=1");
    REQUIRE(t.value);
    auto q = parse_list_query(*t.value);
    REQUIRE(q.value);
    const auto& f = q.value->filter;
    CHECK(f.q == "needle x");
    REQUIRE(f.meta.size() == 3);
    CHECK(f.meta[0].first == "user");
    CHECK(f.meta[0].second == "alice");
    CHECK(f.meta[1].second == "gold plus");
    CHECK(f.meta[2].first == "a.b");  // only the first "meta." is the prefix
  }

  TEST_CASE("refuses an empty meta key and too many meta filters") {
    CHECK_FALSE(parse_list_query(*parse_target("/api/traces?meta.=x").value).value);
    std::string many = "/api/stream?";
    for (int i = 0; i <= 16; ++i) many += "meta.k" + std::to_string(i) + "=v&";
    auto refused = parse_stream_query(*parse_target(many).value);
    CHECK_FALSE(refused.value);
    CHECK(refused.error.find("meta") != std::string::npos);
  }

  TEST_CASE("stream events default to both and parse a comma list") {
    auto both = parse_stream_query(*parse_target("/api/stream").value);
    REQUIRE(both.value);
    CHECK(both.value->spans);
    CHECK(both.value->traces);
    auto spans = parse_stream_query(*parse_target("/api/stream?events=span").value);
    REQUIRE(spans.value);
    CHECK(spans.value->spans);
    CHECK_FALSE(spans.value->traces);
    auto traces = parse_stream_query(*parse_target("/api/stream?events=trace").value);
    REQUIRE(traces.value);
    CHECK_FALSE(traces.value->spans);
    CHECK(traces.value->traces);
    auto listed = parse_stream_query(*parse_target("/api/stream?events=trace,span").value);
    REQUIRE(listed.value);
    CHECK(listed.value->spans);
    CHECK(listed.value->traces);
  }

  TEST_CASE("stream refuses unknown or empty event names") {
    for (const char* bad : {"/api/stream?events=spans", "/api/stream?events=", "/api/stream?events=span,",
                            "/api/stream?events=SPAN", "/api/stream?events=span,log"}) {
      INFO(bad);
      auto q = parse_stream_query(*parse_target(bad).value);
      CHECK_FALSE(q.value);
      CHECK(q.error.find("events") != std::string::npos);
    }
  }

  TEST_CASE("stream reads the same filters as /api/traces and refuses the same bad values") {
    auto q = parse_stream_query(
        *parse_target("/api/stream?run_id=r&name=n&kind=tool&error=true&min_duration_ms=3&q=x&meta.k=v").value);
    REQUIRE(q.value);
    const auto& f = q.value->filter;
    CHECK(f.run_id == "r");
    CHECK(f.name == "n");
    REQUIRE(f.kind);
    CHECK(*f.kind == protocol::SpanKind::tool);
    REQUIRE(f.has_error);
    CHECK(*f.has_error);
    CHECK(f.q == "x");
    REQUIRE(f.meta.size() == 1);
    CHECK_FALSE(parse_stream_query(*parse_target("/api/stream?error=yes").value).value);
    CHECK_FALSE(parse_stream_query(*parse_target("/api/stream?kind=robot").value).value);
    CHECK_FALSE(parse_stream_query(*parse_target("/api/stream?min_duration_ms=-1").value).value);
  }
}
