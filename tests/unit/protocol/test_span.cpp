#include <doctest/doctest.h>

#include "protocol/event.hpp"
#include "protocol/reject_reason.hpp"
#include "protocol/span.hpp"

using namespace tracecol::protocol;

TEST_SUITE("span model") {
  TEST_CASE("kinds print as the seed spells them and parse in any case, with or without SpanKind.") {
    CHECK(to_string(SpanKind::llm) == "LLM");
    CHECK(to_string(SpanKind::custom) == "CUSTOM");
    CHECK(parse_span_kind("tool") == SpanKind::tool);
    CHECK(parse_span_kind("Agent") == SpanKind::agent);
    CHECK(parse_span_kind("SpanKind.TOOL") == SpanKind::tool);
    CHECK(parse_span_kind("spankind.team") == SpanKind::team);
    CHECK_FALSE(parse_span_kind("SpanKind.").has_value());
    CHECK_FALSE(parse_span_kind("SpanKind.ROBOT").has_value());
    CHECK_FALSE(parse_span_kind("").has_value());
    CHECK_FALSE(parse_span_kind("LLM ").has_value());
  }

  TEST_CASE("duration is computed from the times and absent while open") {
    Span s;
    s.started_at_ns = 1'000'000'000;
    CHECK_FALSE(s.duration_ms().has_value());
    s.ended_at_ns = 1'142'500'000;
    REQUIRE(s.duration_ms().has_value());
    CHECK(*s.duration_ms() == doctest::Approx(142.5));
  }

  TEST_CASE("footprint counts heap bytes of long strings only") {
    Span s;
    const std::size_t small = s.footprint();
    CHECK(small == sizeof(Span));
    s.inputs.assign(1000, 'x');
    CHECK(s.footprint() >= sizeof(Span) + 1000);
  }

  TEST_CASE("a trace's start ignores spans not started yet, its end waits for every span") {
    Trace t;
    CHECK(t.started_at_ns() == 0);
    CHECK(t.ended_at_ns() == 0);
    Span a, b, c;
    a.started_at_ns = 50;
    a.ended_at_ns = 90;
    b.ended_at_ns = 70;  // known only from its span_end
    c.started_at_ns = 40;
    c.ended_at_ns = 80;
    c.fields = field_error;
    t.spans = {a, b, c};
    CHECK(t.started_at_ns() == 40);
    CHECK(t.ended_at_ns() == 90);
    CHECK(t.error_count() == 1);
    t.spans.push_back(Span{});
    t.spans.back().started_at_ns = 60;
    CHECK(t.ended_at_ns() == 0);
  }

  TEST_CASE("every event type and reject reason has a stable name") {
    CHECK(to_string(EventType::span_start) == "span_start");
    CHECK(to_string(EventType::hello) == "hello");
    CHECK(to_string(RejectReason::line_too_long) == "line_too_long");
    CHECK(to_string(RejectReason::too_many_spans) == "too_many_spans");
    for (int r = 0; r < static_cast<int>(RejectReason::count_); ++r)
      CHECK(to_string(static_cast<RejectReason>(r)) != "unknown");
  }
}
