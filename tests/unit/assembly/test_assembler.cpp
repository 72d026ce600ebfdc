#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>

#include "tests/unit/assembly/assembler_rig.hpp"

using namespace tracecol;
using namespace tracecol::assembly::testing;
using namespace std::chrono_literals;
using assembly::Clock;

TEST_SUITE("assembler") {
  TEST_CASE("trace_end completes a trace and publishes it once") {
    Rig r;
    r.apply({span_event(1, 1, 0), span_event(1, 2, 1)});
    CHECK(r.published.empty());
    CHECK(r.store.get(tid(1))->spans.size() == 2);  // in progress, visible
    r.apply({trace_end(1)});
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->complete);
    CHECK(r.published[0]->spans.size() == 2);
    CHECK(r.assembler.open_traces() == 0);
  }

  TEST_CASE("a whole trace event completes the trace with its run_id") {
    Rig r;
    Event e;
    e.type = EventType::trace;
    e.trace_id = tid(2);
    e.run_id = "run-7";
    e.spans = {span_event(2, 1, 0).span, span_event(2, 2, 1).span};
    r.apply({e});
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->run_id == "run-7");
    CHECK(r.store.list("run-7").size() == 1);
  }

  TEST_CASE("the linger rule completes a trace whose root ended and nothing is open") {
    assembly::AssemblerOptions o;
    o.trace_linger = 100ms;
    Rig r(o);
    r.apply({span_event(1, 2, 1), span_event(1, 1, 0)}, t0);
    r.assembler.tick(t0 + 50ms);
    CHECK(r.published.empty());
    r.apply({span_event(1, 3, 1)}, t0 + 80ms);  // a new span resets the linger
    r.assembler.tick(t0 + 150ms);
    CHECK(r.published.empty());
    CHECK(r.assembler.next_deadline() <= t0 + 180ms + 50ms);
    r.assembler.tick(t0 + 181ms);
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->complete);
  }

  TEST_CASE("a trace with no root and nothing open completes after the rootless linger") {
    assembly::AssemblerOptions o;
    o.trace_linger = 100ms;
    o.trace_rootless_linger = 2s;
    Rig r(o);
    // An OTLP service's spans: its local root's parent (99) is remote.
    r.apply({span_event(1, 2, 99), span_event(1, 3, 2)}, t0);
    r.assembler.tick(t0 + 1s);
    CHECK(r.published.empty());  // not the short linger: a root may still come
    CHECK(r.assembler.next_deadline() == t0 + 2s);
    r.apply({span_event(1, 4, 2)}, t0 + 1500ms);  // a new span resets it
    r.assembler.tick(t0 + 3s);
    CHECK(r.published.empty());
    r.assembler.tick(t0 + 3500ms);
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->complete);
    CHECK(r.published[0]->spans.size() == 3);
    CHECK(r.assembler.counters().traces_completed == 1);
    CHECK(r.assembler.counters().traces_timed_out == 0);
  }

  TEST_CASE("a rootless trace that gets its root or an open span leaves the rootless linger") {
    assembly::AssemblerOptions o;
    o.trace_linger = 100ms;
    o.trace_rootless_linger = 2s;
    Rig r(o);
    r.apply({span_event(1, 2, 1)}, t0);              // a child first: rootless
    r.apply({span_event(1, 1, 0)}, t0 + 500ms);      // its root: the short linger now
    r.assembler.tick(t0 + 700ms);
    REQUIRE(r.published.size() == 1);
    r.apply({span_event(2, 2, 1)}, t0);              // rootless
    r.apply({span_event(2, 3, 2, false, EventType::span_start)}, t0 + 1s);  // something open: neither linger
    r.assembler.tick(t0 + 10s);
    CHECK(r.published.size() == 1);
    r.apply({end_event(2, 3)}, t0 + 10s);            // nothing open again: rootless from now
    r.assembler.tick(t0 + 11s);
    CHECK(r.published.size() == 1);
    r.assembler.tick(t0 + 12s);
    REQUIRE(r.published.size() == 2);
    CHECK(r.published[1]->trace_id == tid(2));
  }

  TEST_CASE("an open span blocks the linger rule until it ends") {
    assembly::AssemblerOptions o;
    o.trace_linger = 100ms;
    Rig r(o);
    r.apply({span_event(1, 1, 0), span_event(1, 2, 1, false, EventType::span_start)}, t0);
    r.assembler.tick(t0 + 1s);
    CHECK(r.published.empty());
    r.apply({end_event(1, 2)}, t0 + 1s);
    r.assembler.tick(t0 + 1200ms);
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->spans[1].outputs == R"({"ok":true})");
  }

  TEST_CASE("the idle timeout exports an unfinished trace as incomplete") {
    assembly::AssemblerOptions o;
    o.trace_idle_timeout = 300ms;
    Rig r(o);
    r.apply({span_event(1, 1, 0, false, EventType::span_start)}, t0);
    r.assembler.tick(t0 + 299ms);
    CHECK(r.published.empty());
    r.assembler.tick(t0 + 300ms);
    REQUIRE(r.published.size() == 1);
    CHECK_FALSE(r.published[0]->complete);
    CHECK(r.assembler.counters().traces_timed_out == 1);
  }

  TEST_CASE("a duplicate span is stored once and fills what the first copy lacked") {
    Rig r;
    Event first = span_event(1, 1, 0, false);
    Event second = span_event(1, 1, 0, true);
    second.span.inputs = R"({"q":1})";
    second.span.fields |= protocol::field_inputs;
    r.apply({first, second, trace_end(1)});
    REQUIRE(r.published.size() == 1);
    REQUIRE(r.published[0]->spans.size() == 1);
    CHECK(r.published[0]->spans[0].ended());
    CHECK(r.published[0]->spans[0].inputs == R"({"q":1})");
    CHECK(r.assembler.counters().spans_merged == 1);
  }

  TEST_CASE("span_end merges end time, outputs and metadata keys into the started span") {
    Rig r;
    Event start = span_event(1, 1, 0, false, EventType::span_start);
    start.span.metadata = R"({"a":1,"b":1})";
    start.span.fields |= protocol::field_metadata;
    r.apply({start, end_event(1, 1), trace_end(1)});
    REQUIRE(r.published.size() == 1);
    const Span& s = r.published[0]->spans[0];
    CHECK(s.ended());
    CHECK(s.metadata == R"({"a":1,"b":2})");
    CHECK(s.name == "span1");
  }

  TEST_CASE("a span_end before its span_start still makes one span") {
    Rig r;
    r.apply({end_event(1, 1), span_event(1, 1, 0, false, EventType::span_start), trace_end(1)});
    REQUIRE(r.published.size() == 1);
    REQUIRE(r.published[0]->spans.size() == 1);
    const Span& s = r.published[0]->spans[0];
    CHECK(s.name == "span1");
    CHECK(s.started_at_ns < s.ended_at_ns);
  }

  TEST_CASE("a span_end earlier than the span's start is refused as bad_time and the span kept") {
    Rig r;
    Event start = span_event(1, 1, 0, false, EventType::span_start);
    const std::int64_t started = start.span.started_at_ns;
    Event end = end_event(1, 1);
    end.span.ended_at_ns = started + 10'000'000'000;
    Event early = end_event(1, 1);
    early.span.ended_at_ns = started - 20'000'000'000;
    early.span.outputs = R"({"early":true})";
    auto rejected = r.apply({start, end, early, trace_end(1)});
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].index == 2);
    CHECK(rejected[0].reason == protocol::RejectReason::bad_time);
    REQUIRE(r.published.size() == 1);
    const Span& s = r.published[0]->spans[0];
    CHECK(s.started_at_ns == started);
    CHECK(s.ended_at_ns == started + 10'000'000'000);
    CHECK(s.outputs == R"({"ok":true})");  // nothing of the refused event was merged
    CHECK(r.assembler.counters().spans_merged == 1);
    CHECK(r.assembler.counters().spans_rejected == 1);
  }

  TEST_CASE("halves whose times put the end before the start are refused in either order") {
    for (const bool end_first : {false, true}) {
      CAPTURE(end_first);
      Rig r;
      Event start = span_event(1, 1, 0, false, EventType::span_start);
      Event end = end_event(1, 1);
      end.span.ended_at_ns = start.span.started_at_ns - 50'000'000'000;
      const std::int64_t kept_end = end.span.ended_at_ns, kept_start = start.span.started_at_ns;
      auto rejected = end_first ? r.apply({end, start}) : r.apply({start, end});
      REQUIRE(rejected.size() == 1);
      CHECK(rejected[0].index == 1);
      CHECK(rejected[0].reason == protocol::RejectReason::bad_time);
      auto stored = r.store.get(tid(1));
      REQUIRE(stored);
      REQUIRE(stored->spans.size() == 1);
      // The first half stands as sent: an open span_start, or the lone span_end.
      if (end_first) {
        CHECK(stored->spans[0].ended_at_ns == kept_end);
        CHECK_FALSE(stored->spans[0].has(protocol::field_started_at));
      } else {
        CHECK(stored->spans[0].started_at_ns == kept_start);
        CHECK_FALSE(stored->spans[0].ended());
      }
    }
  }

  TEST_CASE("a lone span_end's placeholder start follows an earlier second span_end") {
    Rig r;
    Event first = end_event(1, 1);
    Event second = end_event(1, 1);
    second.span.ended_at_ns = first.span.ended_at_ns - 1'000'000;
    CHECK(r.apply({first, second}).empty());  // no start was sent: nothing to contradict
    const auto stored = r.store.get(tid(1));  // held: the span lives in it
    REQUIRE(stored);
    const Span& s = stored->spans[0];
    CHECK(s.ended_at_ns == second.span.ended_at_ns);
    CHECK(s.started_at_ns == s.ended_at_ns);
  }

  TEST_CASE("spans that came before the one naming the run take its run_id") {
    // An OTLP SDK exports children first; often only the root carries session.id.
    Rig r;
    Event root = span_event(1, 1, 0);
    root.span.run_id = "sess-7";
    root.span.fields |= protocol::field_run_id;
    r.apply({span_event(1, 2, 1), span_event(1, 3, 2), root, trace_end(1)});
    REQUIRE(r.published.size() == 1);
    for (const Span& s : r.published[0]->spans) CHECK(s.run_id == "sess-7");
    CHECK(r.published[0]->run_id == "sess-7");
    CHECK(r.store.list("sess-7").size() == 1);
  }

  TEST_CASE("spans over max_spans_per_trace are rejected by event index") {
    assembly::AssemblerOptions o;
    o.max_spans_per_trace = 2;
    Rig r(o);
    auto rejected = r.apply({span_event(1, 1, 0), span_event(1, 2, 1), span_event(1, 3, 1), span_event(1, 2, 1)});
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].index == 2);
    CHECK(rejected[0].reason == protocol::RejectReason::too_many_spans);
  }

  TEST_CASE("sampling decides from the trace id and keeps traces with errors") {
    assembly::AssemblerOptions o;
    o.sample_rate = 0.0;
    Rig r(o);
    Event bad = span_event(2, 1, 0);
    bad.span.error = "boom";
    bad.span.fields |= protocol::field_error;
    r.apply({span_event(1, 1, 0), trace_end(1), bad, trace_end(2)});
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->trace_id == tid(2));
    CHECK(r.assembler.counters().traces_sampled_out == 1);
    CHECK(r.store.get(tid(1)) != nullptr);  // the store keeps every trace
    int in = 0;
    for (std::uint64_t n = 1; n <= 10000; ++n) {
      const bool a = assembly::sampled_in(tid(n), 0.25);
      CHECK(a == assembly::sampled_in(tid(n), 0.25));
      in += a ? 1 : 0;
    }
    CHECK(in > 2200);
    CHECK(in < 2800);
    CHECK(assembly::sampled_in(tid(5), 1.0));
  }

  TEST_CASE("orphans and parent cycles are stored and exported without trouble") {
    Rig r;
    r.apply({span_event(1, 1, 2), span_event(1, 2, 1), span_event(1, 3, 99), trace_end(1)});
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->spans.size() == 3);
  }

  TEST_CASE("finish_all exports every open trace as it stands, complete only when ready") {
    Rig r;
    r.apply({span_event(1, 1, 0), span_event(2, 1, 0, false, EventType::span_start)});
    r.assembler.finish_all();
    REQUIRE(r.published.size() == 2);
    for (const auto& t : r.published) CHECK(t->complete == (t->trace_id == tid(1)));
    CHECK(r.assembler.open_traces() == 0);
  }

  TEST_CASE("late spans of a trace kept for its error are exported even when sampled out") {
    assembly::AssemblerOptions o;
    o.sample_rate = 0.0;
    Rig r(o);
    Event bad = span_event(1, 1, 0);
    bad.span.error = "boom";
    bad.span.fields |= protocol::field_error;
    r.apply({bad, trace_end(1)});
    r.apply({span_event(1, 2, 1)});
    REQUIRE(r.published.size() == 2);
    CHECK(r.published[1]->follow_up);
  }

  TEST_CASE("a late span over the cap is refused without copying the exported trace") {
    assembly::AssemblerOptions o;
    o.max_spans_per_trace = 2;
    Rig r(o);
    r.apply({span_event(1, 1, 0), span_event(1, 2, 1), trace_end(1)});
    auto held = r.store.get(tid(1));  // an exporter holding the snapshot
    auto rejected = r.apply({span_event(1, 3, 1)});
    REQUIRE(rejected.size() == 1);
    CHECK(r.store.get(tid(1)).get() == held.get());  // still the same object: nothing copied
  }

  TEST_CASE("a big trace (indexed lookups) still merges duplicates") {
    Rig r;
    std::vector<Event> events;
    for (protocol::SpanId i = 1; i <= 100; ++i) events.push_back(span_event(1, i, i == 1 ? 0 : 1));
    for (protocol::SpanId i = 1; i <= 100; ++i) events.push_back(span_event(1, i, i == 1 ? 0 : 1));
    events.push_back(trace_end(1));
    r.apply(events);
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->spans.size() == 100);
  }

  TEST_CASE("next_deadline is the linger of the oldest ready trace or the idle timeout") {
    assembly::AssemblerOptions o;
    o.trace_linger = 100ms;
    o.trace_idle_timeout = 10s;
    Rig r(o);
    CHECK(r.assembler.next_deadline() == Clock::time_point::max());
    r.apply({span_event(1, 1, 0, false, EventType::span_start)}, t0);
    CHECK(r.assembler.next_deadline() == t0 + 10s);
    r.apply({span_event(2, 1, 0)}, t0 + 1s);
    CHECK(r.assembler.next_deadline() == t0 + 1100ms);
    r.assembler.tick(t0 + 1100ms);
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->trace_id == tid(2));
    CHECK(r.assembler.next_deadline() == t0 + 10s);
  }

  TEST_CASE("a span that reopens a ready trace takes it off the linger path") {
    assembly::AssemblerOptions o;
    o.trace_linger = 100ms;
    Rig r(o);
    r.apply({span_event(1, 1, 0)}, t0);
    r.apply({span_event(1, 2, 1, false, EventType::span_start)}, t0 + 10ms);
    r.assembler.tick(t0 + 500ms);
    CHECK(r.published.empty());
    r.apply({end_event(1, 2)}, t0 + 600ms);
    r.assembler.tick(t0 + 699ms);
    CHECK(r.published.empty());
    r.assembler.tick(t0 + 700ms);
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->complete);
  }

  TEST_CASE("trace_end for an unknown trace is counted and ignored") {
    Rig r;
    r.apply({trace_end(42)});
    CHECK(r.published.empty());
    CHECK(r.store.get(tid(42)) == nullptr);
    CHECK(r.assembler.counters().trace_ends_ignored == 1);
  }

  TEST_CASE("sampling at 1.0 keeps every trace") {
    assembly::AssemblerOptions o;
    o.sample_rate = 1.0;
    Rig r(o);
    std::vector<Event> events;
    for (std::uint64_t n = 1; n <= 50; ++n) {
      events.push_back(span_event(n, 1, 0));
      events.push_back(trace_end(n));
    }
    r.apply(events);
    CHECK(r.published.size() == 50);
    CHECK(r.assembler.counters().traces_sampled_out == 0);
  }

  TEST_CASE("a span learns its run_id from the trace and the trace from a later span") {
    Rig r;
    Event a = span_event(1, 1, 0);
    Event b = span_event(1, 2, 1);
    b.span.run_id = "run-9";
    b.span.fields |= protocol::field_run_id;
    r.apply({a, b, trace_end(1)});
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->run_id == "run-9");
    REQUIRE(r.store.list("run-9").size() == 1);
  }

}
