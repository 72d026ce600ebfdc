// --max-trace-bytes: one trace's share of the store. Without it the store's "keep the
// newest trace whatever its size" lets a single agent grow the daemon without bound.

#include <doctest/doctest.h>

#include "tests/unit/assembly/assembler_rig.hpp"

using namespace tracecol;
using namespace tracecol::assembly::testing;
using namespace std::chrono_literals;

namespace {

/** A finished span carrying `pad` bytes of inputs. */
Event padded_span(std::uint64_t trace, protocol::SpanId id, protocol::SpanId parent, std::size_t pad) {
  Event e = span_event(trace, id, parent);
  e.span.inputs = R"({"p":")" + std::string(pad, 'x') + R"("})";
  e.span.fields |= protocol::field_inputs;
  return e;
}

std::size_t trace_bytes(store::TraceStore& store, std::uint64_t trace) {
  auto txn = store.begin();
  return txn.bytes_of(tid(trace));
}

}  // namespace

TEST_SUITE("assembler: max_trace_bytes") {
  TEST_CASE("spans that would take a trace past the bound are rejected and other traces go on") {
    assembly::AssemblerOptions o;
    o.max_trace_bytes = 64 * 1024;
    Rig r(o);
    std::vector<Event> events{span_event(1, 1, 0, false, EventType::span_start)};
    for (protocol::SpanId id = 2; id < 40; ++id) events.push_back(padded_span(1, id, 1, 4000));
    events.push_back(padded_span(2, 1, 0, 4000));
    const auto rejected = r.apply(events);
    // 4 KB spans into 64 KiB: the first ~15 fit, every later one is refused by index.
    REQUIRE(!rejected.empty());
    CHECK(rejected.size() < 38);
    for (const auto& rej : rejected) {
      CHECK(rej.reason == protocol::RejectReason::trace_too_large);
      CHECK(rej.index < events.size() - 1);  // never trace 2's span
    }
    CHECK(rejected.front().index + rejected.size() == events.size() - 1);  // once full, stays full
    CHECK(trace_bytes(r.store, 1) <= o.max_trace_bytes);
    CHECK(r.store.get(tid(1))->spans.size() == 1 + (38 - rejected.size()));
    CHECK(r.store.get(tid(2))->spans.size() == 1);
    CHECK(r.assembler.counters().spans_rejected == rejected.size());
    // The span_end of the open root is small: it still merges into the full trace.
    CHECK(r.apply({end_event(1, 1)}).empty());
    CHECK(r.store.get(tid(1))->spans[0].ended());
  }

  TEST_CASE("a first span larger than the bound leaves no empty trace behind") {
    assembly::AssemblerOptions o;
    o.max_trace_bytes = 8 * 1024;
    Rig r(o);
    const auto rejected = r.apply({padded_span(7, 1, 0, 9000)});
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].reason == protocol::RejectReason::trace_too_large);
    CHECK(r.store.get(tid(7)) == nullptr);
    CHECK(r.assembler.open_traces() == 0);
    CHECK(r.store.counters().inserted == 0);
    // Nor does one that fits alone but not with the store's own bookkeeping for a trace.
    const auto edge_span = [](std::size_t pad) {
      Event e = padded_span(8, 1, 0, pad);
      e.span.inputs.shrink_to_fit();
      return e;
    };
    std::size_t pad = 7000;
    while (edge_span(pad).span.footprint() + store::trace_overhead_bytes <= o.max_trace_bytes) pad += 16;
    const Event edge = edge_span(pad);
    REQUIRE(edge.span.footprint() <= o.max_trace_bytes);
    const auto refused = r.apply({edge});
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].reason == protocol::RejectReason::trace_too_large);
    CHECK(r.store.get(tid(8)) == nullptr);
    CHECK(r.store.counters().inserted == 0);
  }

  TEST_CASE("a span_end whose outputs would pass the bound is refused and the span stays as it was") {
    assembly::AssemblerOptions o;
    o.max_trace_bytes = 16 * 1024;
    Rig r(o);
    CHECK(r.apply({span_event(1, 1, 0, false, EventType::span_start)}).empty());
    Event end = end_event(1, 1);
    end.span.outputs = R"({"o":")" + std::string(20000, 'y') + R"("})";
    const auto rejected = r.apply({end});
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].reason == protocol::RejectReason::trace_too_large);
    const auto stored = r.store.get(tid(1));
    CHECK_FALSE(stored->spans[0].ended());
    CHECK(stored->spans[0].outputs.empty());
    CHECK(trace_bytes(r.store, 1) <= o.max_trace_bytes);
  }

  TEST_CASE("late spans of an exported trace meet the same bound") {
    assembly::AssemblerOptions o;
    o.max_trace_bytes = 32 * 1024;
    Rig r(o);
    r.apply({span_event(1, 1, 0), trace_end(1)});
    REQUIRE(r.published.size() == 1);
    std::vector<Event> late;
    for (protocol::SpanId id = 2; id < 20; ++id) late.push_back(padded_span(1, id, 1, 4000));
    const auto rejected = r.apply(late);
    REQUIRE(!rejected.empty());
    for (const auto& rej : rejected) CHECK(rej.reason == protocol::RejectReason::trace_too_large);
    CHECK(trace_bytes(r.store, 1) <= o.max_trace_bytes);
    // What was taken went out as one follow-up; what was refused went nowhere.
    REQUIRE(r.published.size() == 2);
    CHECK(r.published[1]->follow_up);
    CHECK(r.published[1]->spans.size() == late.size() - rejected.size());
  }
}
