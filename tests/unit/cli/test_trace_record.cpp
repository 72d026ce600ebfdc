// Trace records back into protocol::Trace: tail's rendering equals the console
// exporter's for the same trace, even where the record's µs times lose precision.

#include <doctest/doctest.h>

#include <string>

#include "client/cli/trace_record.hpp"
#include "daemon/export/console_exporter.hpp"
#include "protocol/encoder.hpp"

using namespace tracecol;
using namespace tracecol::cli;

namespace {

constexpr std::int64_t t0 = 1732500000LL * 1000000000LL;

protocol::Span make_span(std::uint64_t id, std::uint64_t parent, std::string name, std::int64_t start, std::int64_t end) {
  protocol::Span s;
  s.trace_id = protocol::TraceId{0x1234, 0xabcdef};
  s.span_id = id;
  s.parent_id = parent;
  s.name = std::move(name);
  s.run_id = "run-1";
  s.kind = protocol::SpanKind::tool;
  s.started_at_ns = start;
  s.ended_at_ns = end;
  s.fields = protocol::field_name | protocol::field_run_id | protocol::field_kind | protocol::field_started_at |
             (end ? protocol::field_ended_at : 0) | (parent ? protocol::field_parent_id : 0);
  return s;
}

std::string console_of(const protocol::Trace& t) {
  std::string out;
  exporters::ConsoleExporter::format(out, t);
  return out;
}

/** Encodes t as the daemon's record, decodes it back and renders both ways. */
void check_round_trip(protocol::Trace& t) {
  for (auto& s : t.spans) s.trace_id = t.trace_id;
  std::string json;
  protocol::append_trace_json(json, t);
  std::string error;
  const auto back = decode_trace_record(json, error);
  INFO(json);
  INFO(error);
  REQUIRE(back);
  CHECK(render_console(*back) == console_of(t));
  CHECK(back->spans.size() == t.spans.size());
}

}  // namespace

TEST_SUITE("cli trace record") {
TEST_CASE("renders a nested trace with errors exactly as the console exporter does") {
  protocol::Trace t;
  t.trace_id = protocol::TraceId{0x1234, 0xabcdef};
  t.run_id = "run-1";
  t.complete = true;
  t.spans.push_back(make_span(1, 0, "agent.run", t0, t0 + 142'000'000));
  t.spans.push_back(make_span(3, 1, "tool.fetch", t0 + 130'000'000, t0 + 142'000'000));
  t.spans.push_back(make_span(2, 1, "llm.complete", t0 + 5'000'000, t0 + 135'000'000));
  t.spans.push_back(make_span(4, 2, "nested \x1b[31m name", t0 + 6'000'000, t0 + 7'000'000));
  t.spans.back().error = "rate\nlimited";
  t.spans.back().fields |= protocol::field_error;
  t.spans.back().inputs = R"({"prompt":"hi","n":1.50E+3})";
  t.spans.back().fields |= protocol::field_inputs;
  check_round_trip(t);
}

TEST_CASE("keeps the milliseconds the daemon shows when sub-microsecond times round differently") {
  protocol::Trace t;
  t.trace_id = protocol::TraceId{0, 0x3a7f1c2b};
  t.complete = true;
  // 1.499999 ms: the daemon shows 1ms; the µs-truncated times alone would give 1.5 -> 2ms.
  t.spans.push_back(make_span(1, 0, "edge", t0 + 123, t0 + 123 + 1'499'999));
  // 2.5 ms exactly and 0.4999995 ms.
  t.spans.push_back(make_span(2, 1, "half", t0 + 999, t0 + 999 + 2'500'000));
  t.spans.push_back(make_span(3, 1, "tiny", t0 + 1, t0 + 1 + 499'999));
  check_round_trip(t);
  std::string json;
  protocol::append_trace_json(json, t);
  std::string error;
  CHECK(render_console(*decode_trace_record(json, error)) == "[Trace 3a7f1c2b]\nedge [1ms]\n  tiny [0ms]\n  half [3ms]\n");
}

TEST_CASE("shows incomplete traces, open spans, orphans and parent cycles as the exporter does") {
  protocol::Trace t;
  t.trace_id = protocol::TraceId{0xfeed, 1};
  t.run_id = "run\twith tab";
  t.complete = false;
  t.spans.push_back(make_span(1, 0, "root", t0, 0));                        // still running
  t.spans.push_back(make_span(5, 99, "lost", t0 + 1000, t0 + 2000));        // parent never came
  t.spans.push_back(make_span(7, 8, "cycle-a", t0 + 3000, t0 + 4000));      // 7 -> 8 -> 7
  t.spans.push_back(make_span(8, 7, "cycle-b", t0 + 3000, t0 + 5000));
  check_round_trip(t);
}

TEST_CASE("marks a follow-up record of late spans") {
  protocol::Trace t;
  t.trace_id = protocol::TraceId{0x1, 0x2};
  t.follow_up = true;
  t.spans.push_back(make_span(9, 1, "late", t0, t0 + 1'000'000));
  t.spans.back().late = true;
  check_round_trip(t);
  std::string json;
  protocol::append_trace_json(json, t);
  std::string error;
  CHECK(render_console(*decode_trace_record(json, error)).find("(late spans)") != std::string::npos);
}

TEST_CASE("decodes a span event and renders it on one line") {
  auto s = make_span(2, 1, "llm.complete", t0 + 5'000'000, t0 + 135'000'000);
  s.error = "boom";
  s.fields |= protocol::field_error;
  s.kind = protocol::SpanKind::llm;
  std::string json;
  protocol::append_span_json(json, s);
  std::string error;
  const auto back = decode_span_record(json, error);
  REQUIRE(back);
  CHECK(back->span_id == 2);
  CHECK(render_span_line(*back) == "[Span 00000000 0000000000000002] LLM llm.complete [130ms] ERROR: boom run_id=run-1\n");
}

TEST_CASE("refuses what is not a record, without throwing") {
  std::string error;
  CHECK_FALSE(decode_trace_record("", error));
  CHECK_FALSE(decode_trace_record("[1,2]", error));
  CHECK_FALSE(decode_trace_record(R"({"trace_id":"1"})", error));
  CHECK_FALSE(decode_trace_record(R"({"trace_id":"zz","spans":[]})", error));
  CHECK_FALSE(decode_trace_record(R"({"trace_id":"1","spans":[{"span_id":"1"}]})", error));  // no started_at
  CHECK_FALSE(decode_trace_record("{\"trace_id\":\"1\",\"spans\":[]} trailing", error));
  CHECK_FALSE(decode_span_record("{", error));
  CHECK_FALSE(decode_span_record(R"({"span_id":"1"})", error));
}
}
