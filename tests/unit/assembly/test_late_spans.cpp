#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>

#include "daemon/assembly/evicted_ids.hpp"
#include "protocol/encoder.hpp"
#include "protocol/trace_tree.hpp"
#include "tests/unit/assembly/assembler_rig.hpp"

using namespace tracecol;
using namespace tracecol::assembly::testing;
using namespace std::chrono_literals;
using assembly::Clock;

TEST_SUITE("assembler") {
  TEST_CASE("a late span is published once as a follow-up and kept in the store") {
    Rig r;
    r.apply({span_event(1, 1, 0), trace_end(1)});
    auto snapshot = r.store.get(tid(1));
    r.apply({span_event(1, 2, 1), span_event(1, 3, 1)});
    REQUIRE(r.published.size() == 2);
    CHECK(r.published[1]->follow_up);
    REQUIRE(r.published[1]->spans.size() == 2);
    CHECK(r.published[1]->spans[0].late);
    CHECK(snapshot->spans.size() == 1);  // the exported snapshot is untouched
    CHECK(r.store.get(tid(1))->spans.size() == 3);
    r.apply({span_event(1, 2, 1)});  // a duplicate of a late span: merged, not re-published
    CHECK(r.published.size() == 2);
  }

  TEST_CASE("spans for a trace evicted after export make a follow-up of late spans, not a new trace") {
    assembly::AssemblerOptions o;
    o.trace_linger = 10ms;
    Rig r(o, {1, 1u << 30});
    r.apply({span_event(1, 1, 0), span_event(1, 2, 1), trace_end(1)});
    r.apply({span_event(2, 1, 0), trace_end(2)});  // evicts trace 1 (max 1 trace)
    REQUIRE(r.published.size() == 2);
    REQUIRE(r.store.get(tid(1)) == nullptr);
    // The agent sends trace 1's child again (exported already) and one new child, no root.
    r.apply({span_event(1, 2, 1), span_event(1, 3, 1)}, t0 + 1ms);
    r.assembler.tick(t0 + 20ms);  // nothing open: the linger rule completes it without a root
    REQUIRE(r.published.size() == 3);
    const auto& follow = *r.published[2];
    CHECK(follow.trace_id == tid(1));
    CHECK(follow.follow_up);
    CHECK(follow.complete);
    REQUIRE(follow.spans.size() == 2);
    CHECK(follow.spans[0].late);
    CHECK(follow.spans[1].late);
    CHECK(r.assembler.counters().spans_late == 2);
    CHECK(r.assembler.counters().follow_ups_published == 1);
    // The store's record of it says so too, and its missing parent is no orphan there.
    auto stored = r.store.get(tid(1));
    REQUIRE(stored);
    CHECK(stored->follow_up);
    // A trace never seen before still starts as a trace.
    r.apply({span_event(3, 1, 0), trace_end(3)}, t0 + 30ms);
    CHECK_FALSE(r.published.back()->follow_up);
    CHECK_FALSE(r.published.back()->spans[0].late);
  }

  TEST_CASE("the evicted ids remembered are bounded and the oldest go first") {
    assembly::EvictedIds ids(3);
    for (std::uint64_t n = 1; n <= 3; ++n) ids.remember(tid(n));
    ids.remember(tid(2));  // already there: keeps its place
    CHECK(ids.size() == 3);
    ids.remember(tid(4));
    CHECK_FALSE(ids.contains(tid(1)));
    CHECK(ids.contains(tid(2)));
    CHECK(ids.contains(tid(4)));
    for (std::uint64_t n = 5; n <= 100; ++n) ids.remember(tid(n));
    CHECK(ids.size() == 3);
    CHECK(ids.contains(tid(100)));
    CHECK_FALSE(ids.contains(tid(97)));
    assembly::EvictedIds none(0);
    none.remember(tid(1));
    CHECK_FALSE(none.contains(tid(1)));
  }

  TEST_CASE("evicting an open trace publishes it first") {
    Rig r({}, {2, 1u << 30});
    r.apply({span_event(1, 1, 0), span_event(2, 1, 0), span_event(3, 1, 0)});
    REQUIRE(r.published.size() == 1);
    CHECK(r.published[0]->trace_id == tid(1));
    CHECK_FALSE(r.published[0]->complete);
    CHECK(r.assembler.open_traces() == 2);
  }

  TEST_CASE("every accepted span is published exactly once across random interleavings") {
    assembly::AssemblerOptions o;
    o.trace_linger = 20ms;
    o.trace_idle_timeout = 200ms;
    Rig r(o, {50, 1u << 30});
    std::mt19937 rng(1234);
    std::set<std::pair<std::uint64_t, protocol::SpanId>> sent;
    auto now = t0;
    for (int round = 0; round < 400; ++round) {
      std::vector<Event> batch;
      for (int i = 0; i < 20; ++i) {
        const std::uint64_t trace = 1 + rng() % 200;
        const protocol::SpanId id = 1 + rng() % 30;
        switch (rng() % 6) {
          case 0: batch.push_back(span_event(trace, id, id == 1 ? 0 : 1, false, EventType::span_start)); break;
          case 1: batch.push_back(end_event(trace, id)); break;
          case 2: batch.push_back(trace_end(trace)); continue;
          default: batch.push_back(span_event(trace, id, id == 1 ? 0 : 1)); break;
        }
        sent.insert({trace, id});
      }
      r.apply(batch, now);
      now += std::chrono::milliseconds(rng() % 40);
      r.assembler.tick(now);
    }
    r.assembler.finish_all();
    std::map<std::pair<std::uint64_t, protocol::SpanId>, int> seen;
    for (const auto& t : r.published)
      for (const Span& s : t->spans)
        if (!s.update) ++seen[{t->trace_id.lo, s.span_id}];  // an update is no new publication
    // A span id re-sent after its trace was evicted starts a new trace: count distinct
    // publications per (trace, span) episode via the counters instead of the id set.
    const auto c = r.assembler.counters();
    std::uint64_t published_spans = 0;
    for (const auto& [key, n] : seen) published_spans += static_cast<std::uint64_t>(n);
    CHECK(published_spans == c.spans_accepted);
    CHECK(c.spans_published == c.spans_accepted);
    for (const auto& key : sent) CHECK(seen.contains(key));
  }
  TEST_CASE("a late span_end for a span exported open goes out as an update in a follow-up") {
    assembly::AssemblerOptions o;
    o.trace_idle_timeout = 1s;
    Rig r(o);
    r.apply({span_event(1, 1, 0, false, EventType::span_start)}, t0);
    r.assembler.tick(t0 + 1s);
    REQUIRE(r.published.size() == 1);
    CHECK_FALSE(r.published[0]->spans[0].ended());
    Event end = end_event(1, 1);
    end.span.error = "tool crashed";
    end.span.fields |= protocol::field_error;
    r.apply({end}, t0 + 2s);
    CHECK(r.store.get(tid(1))->spans[0].ended());
    CHECK_FALSE(r.published[0]->spans[0].ended());  // the exported snapshot is untouched
    // The exporters hear how the span ended: its end, outputs and error, once.
    REQUIRE(r.published.size() == 2);
    const auto& follow = *r.published[1];
    CHECK(follow.follow_up);
    REQUIRE(follow.spans.size() == 1);
    CHECK(follow.spans[0].update);
    CHECK(follow.spans[0].late);
    CHECK(follow.spans[0].ended());
    CHECK(follow.spans[0].error == "tool crashed");
    CHECK(follow.spans[0].outputs == R"({"ok":true})");
    const auto c = r.assembler.counters();
    CHECK(c.spans_merged == 1);
    CHECK(c.span_updates_published == 1);
    CHECK(c.spans_published == c.spans_accepted);  // no new span was published
    // The same span_end again says nothing new: nothing more goes out.
    r.apply({end}, t0 + 3s);
    CHECK(r.published.size() == 2);
    CHECK(r.assembler.counters().span_updates_published == 1);
  }

  TEST_CASE("a late span under a parent of the first record is no orphan in its follow-up, one under nobody is") {
    Rig r;
    r.apply({span_event(1, 1, 0), trace_end(1)});
    REQUIRE(r.published.size() == 1);
    r.apply({span_event(1, 2, 1), span_event(1, 3, 99), span_event(1, 5, 4), span_event(1, 4, 1)});
    REQUIRE(r.published.size() == 2);
    const auto& follow = *r.published[1];
    REQUIRE(follow.spans.size() == 4);
    std::map<protocol::SpanId, bool> orphan;
    for (const auto& row : protocol::tree_order(follow))
      orphan[follow.spans[row.index].span_id] = row.orphan || follow.spans[row.index].orphan;
    CHECK_FALSE(orphan.at(2));  // its parent, the root, went out in the first record
    CHECK(orphan.at(3));        // span 99 was never seen
    CHECK_FALSE(orphan.at(4));
    CHECK_FALSE(orphan.at(5));  // its parent came late too, after it, in the same batch
    std::string json;
    protocol::append_trace_json(json, follow);
    std::size_t marks = 0;
    for (std::size_t at = 0; (at = json.find("\"orphan\":true", at)) != std::string::npos; ++at) ++marks;
    CHECK(marks == 1);
  }

  TEST_CASE("a late span_end earlier than the exported span's start is refused as bad_time") {
    assembly::AssemblerOptions o;
    o.trace_idle_timeout = 1s;
    Rig r(o);
    Event start = span_event(1, 1, 0, false, EventType::span_start);
    const std::int64_t started = start.span.started_at_ns;
    r.apply({start}, t0);
    r.assembler.tick(t0 + 1s);
    REQUIRE(r.published.size() == 1);
    Event early = end_event(1, 1);
    early.span.ended_at_ns = started - 1;
    auto rejected = r.apply({early}, t0 + 2s);
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].reason == protocol::RejectReason::bad_time);
    const auto stored = r.store.get(tid(1));  // held: the span lives in it
    REQUIRE(stored);
    const Span& s = stored->spans[0];
    CHECK(s.started_at_ns == started);
    CHECK_FALSE(s.ended());
    CHECK(r.assembler.counters().spans_merged == 0);
    CHECK(r.published.size() == 1);
  }

  TEST_CASE("late spans for a big exported trace make one follow-up per apply") {
    Rig r;
    std::vector<Event> events;
    for (protocol::SpanId i = 1; i <= 100; ++i) events.push_back(span_event(1, i, i == 1 ? 0 : 1));
    events.push_back(trace_end(1));
    r.apply(events);
    events.clear();
    for (protocol::SpanId i = 1; i <= 100; ++i) events.push_back(span_event(1, i, i == 1 ? 0 : 1));  // duplicates
    for (protocol::SpanId i = 101; i <= 110; ++i) events.push_back(span_event(1, i, 1));
    r.apply(events);
    REQUIRE(r.published.size() == 2);
    CHECK(r.published[1]->follow_up);
    CHECK(r.published[1]->spans.size() == 10);
    CHECK(r.store.get(tid(1))->spans.size() == 110);
    r.apply({span_event(1, 111, 1)});
    REQUIRE(r.published.size() == 3);
    CHECK(r.published[2]->spans.size() == 1);
  }

  TEST_CASE("a trace evicted and restarted within one batch takes late spans safely") {
    Rig r({}, {2, 1u << 30});
    std::vector<Event> events;
    for (protocol::SpanId i = 1; i <= 40; ++i) events.push_back(span_event(1, i, i == 1 ? 0 : 1));
    events.push_back(trace_end(1));
    events.push_back(span_event(1, 41, 1));  // late: builds an index over trace 1
    events.push_back(span_event(2, 1, 0));
    events.push_back(span_event(3, 1, 0));   // evicts trace 1 (exported)
    events.push_back(span_event(1, 7, 0));   // a new trace 1, evicting trace 2
    events.push_back(trace_end(1));
    events.push_back(span_event(1, 8, 7));   // late for the new trace 1
    events.push_back(span_event(1, 7, 0));   // duplicate of an exported span
    r.apply(events);
    auto stored = r.store.get(tid(1));
    REQUIRE(stored != nullptr);
    CHECK(stored->spans.size() == 2);
    r.assembler.finish_all();
    const auto c = r.assembler.counters();
    CHECK(c.spans_published == c.spans_accepted);
  }

  TEST_CASE("a trace event for an exported trace leaves the published snapshot alone") {
    Rig r;
    r.apply({span_event(1, 1, 0), trace_end(1)});
    Event e;
    e.type = EventType::trace;
    e.trace_id = tid(1);
    e.run_id = "run-late";
    e.spans = {span_event(1, 2, 1).span};
    r.apply({e});
    REQUIRE(r.published.size() == 2);
    CHECK(r.published[0]->run_id.empty());
    CHECK(r.published[1]->follow_up);
    CHECK(r.store.get(tid(1))->run_id == "run-late");
  }

  TEST_CASE("every accepted span id is published exactly once when nothing is evicted") {
    assembly::AssemblerOptions o;
    o.trace_linger = 20ms;
    o.trace_idle_timeout = 300ms;
    Rig r(o, {100000, 1u << 30});
    std::mt19937 rng(99);
    std::set<std::pair<std::uint64_t, protocol::SpanId>> sent;
    auto now = t0;
    for (int round = 0; round < 500; ++round) {
      std::vector<Event> batch;
      for (int i = 0; i < 16; ++i) {
        const std::uint64_t trace = 1 + rng() % 200;
        const protocol::SpanId id = 1 + rng() % 40;
        const protocol::SpanId parent = id == 1 ? 0 : 1 + rng() % id;  // sometimes itself: a cycle
        switch (rng() % 7) {
          case 0: batch.push_back(span_event(trace, id, parent, false, EventType::span_start)); break;
          case 1: batch.push_back(end_event(trace, id)); break;
          case 2: batch.push_back(trace_end(trace)); continue;
          case 3: batch.push_back(span_event(trace, id, parent)); batch.push_back(batch.back()); break;
          default: batch.push_back(span_event(trace, id, parent)); break;
        }
        sent.insert({trace, id});
      }
      r.apply(batch, now);
      now += std::chrono::milliseconds(rng() % 40);
      r.assembler.tick(now);
    }
    r.assembler.finish_all();
    CHECK(r.assembler.open_traces() == 0);
    std::map<std::pair<std::uint64_t, protocol::SpanId>, int> seen;
    std::uint64_t updates = 0;
    for (const auto& t : r.published)
      for (const Span& s : t->spans) {
        if (s.update) ++updates;  // a changed span again: its end came after its trace went out
        else ++seen[{t->trace_id.lo, s.span_id}];
      }
    CHECK(r.assembler.counters().span_updates_published == updates);
    CHECK(seen.size() == sent.size());
    int not_once = 0;
    for (const auto& [key, n] : seen) not_once += n == 1 ? 0 : 1;
    CHECK(not_once == 0);
    const auto c = r.assembler.counters();
    CHECK(c.spans_accepted == sent.size());
    CHECK(c.spans_published == c.spans_accepted);
    CHECK(r.store.counters().spans == sent.size());
  }
  TEST_CASE("late copies for a big exported trace across many batches merge into the stored spans") {
    Rig r;
    std::vector<Event> events;
    for (protocol::SpanId i = 1; i <= 100; ++i) events.push_back(span_event(1, i, i == 1 ? 0 : 1));
    events.push_back(trace_end(1));
    r.apply(events);
    for (protocol::SpanId i = 1; i <= 50; ++i)
      r.apply({span_event(1, i, i == 1 ? 0 : 1), span_event(1, 100 + i, 1)});
    for (std::uint64_t n = 2; n <= 40; ++n) {  // more exported traces with late spans than indexes kept
      std::vector<Event> other;
      for (protocol::SpanId i = 1; i <= 40; ++i) other.push_back(span_event(n, i, i == 1 ? 0 : 1));
      other.push_back(trace_end(n));
      other.push_back(span_event(n, 41, 1));
      r.apply(other);
    }
    r.apply({span_event(1, 120, 1), span_event(1, 151, 1)});
    const auto stored = r.store.get(tid(1));
    CHECK(stored->spans.size() == 151);
    const auto c = r.assembler.counters();
    CHECK(c.spans_merged == 51);
    CHECK(c.spans_published == c.spans_accepted);
    CHECK(c.spans_late == 51 + 39);
  }

}
