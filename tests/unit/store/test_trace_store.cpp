#include <doctest/doctest.h>

#include "daemon/store/trace_store.hpp"

using namespace tracecol;
using protocol::Span;
using protocol::Trace;
using protocol::TraceId;

namespace {

TraceId tid(std::uint64_t n) { return TraceId{0, n}; }

/** Inserts trace n with `spans` spans (span i started at i ms), optionally exported. */
void put(store::TraceStore& s, std::uint64_t n, int spans = 1, bool exported = true, std::string run = "") {
  auto txn = s.begin();
  Trace& t = txn.insert(tid(n));
  for (int i = 0; i < spans; ++i) {
    Span sp;
    sp.trace_id = tid(n);
    sp.span_id = static_cast<protocol::SpanId>(i + 1);
    sp.name = "span" + std::to_string(i);
    sp.started_at_ns = 1'000'000'000'000'000'000LL + static_cast<std::int64_t>(n) * 1'000'000'000LL;
    sp.ended_at_ns = sp.started_at_ns + 5'000'000LL * (i + 1);
    txn.add_bytes(tid(n), static_cast<std::ptrdiff_t>(sp.footprint()), 1);
    t.spans.push_back(sp);
  }
  if (!run.empty()) txn.set_run_id(tid(n), run);
  if (exported) txn.mark_exported(tid(n));
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE("evicts the oldest trace when full") {
    store::TraceStore s({3, 1u << 30});
    for (std::uint64_t n = 1; n <= 4; ++n) put(s, n);
    CHECK(s.get(tid(1)) == nullptr);
    CHECK(s.get(tid(4)) != nullptr);
    CHECK(s.counters().traces == 3);
    CHECK(s.counters().evicted_max_traces == 1);
  }

  TEST_CASE("keeps exactly the newest traces through 10k inserts") {
    store::TraceStore s({1000, 1u << 30});
    for (std::uint64_t n = 1; n <= 10000; ++n) put(s, n);
    CHECK(s.counters().traces == 1000);
    auto newest = s.last(1000);
    REQUIRE(newest.size() == 1000);
    CHECK(newest.front()->trace_id == tid(10000));
    CHECK(newest.back()->trace_id == tid(9001));
  }

  TEST_CASE("evicts by bytes at the end of a transaction, keeping the newest") {
    store::TraceStore s({1000, 8000});
    for (std::uint64_t n = 1; n <= 20; ++n) put(s, n, 5);
    const auto c = s.counters();
    CHECK(c.bytes <= 8000);
    CHECK(c.evicted_max_bytes > 0);
    CHECK(s.get(tid(20)) != nullptr);
    CHECK(c.spans == c.traces * 5);
  }

  TEST_CASE("hands every evicted trace to the evict callback saying whether it was exported") {
    store::TraceStore s({2, 1u << 30});
    std::vector<std::pair<TraceId, bool>> evicted;
    s.set_evict_callback([&](std::shared_ptr<Trace>&& t, bool exported) { evicted.emplace_back(t->trace_id, exported); });
    put(s, 1, 1, false);
    put(s, 2, 1, true);
    put(s, 3, 1, true);
    put(s, 4, 1, true);
    REQUIRE(evicted.size() == 2);
    CHECK(evicted[0] == std::pair(tid(1), false));
    CHECK(evicted[1] == std::pair(tid(2), true));
    CHECK(s.counters().evicted_open == 1);
  }

  TEST_CASE("lists a run's traces oldest first and the newest N newest first") {
    store::TraceStore s;
    put(s, 1, 1, true, "run-a");
    put(s, 2, 1, true, "run-b");
    put(s, 3, 1, true, "run-a");
    auto run = s.list("run-a");
    REQUIRE(run.size() == 2);
    CHECK(run[0]->trace_id == tid(1));
    CHECK(run[1]->trace_id == tid(3));
    auto last = s.last(2);
    REQUIRE(last.size() == 2);
    CHECK(last[0]->trace_id == tid(3));
    CHECK(s.list("nope").empty());
  }

  TEST_CASE("filters by name, kind, error, duration, time range and limit") {
    store::TraceStore s;
    put(s, 1, 1);
    put(s, 2, 3);
    {
      auto txn = s.begin();
      Trace& t = txn.insert(tid(3));
      Span sp;
      sp.trace_id = tid(3);
      sp.span_id = 1;
      sp.kind = protocol::SpanKind::tool;
      sp.name = "tool.fetch";
      sp.started_at_ns = 1'000'000'003'000'000'000LL;
      sp.ended_at_ns = sp.started_at_ns + 1'000'000;
      sp.error = "boom";
      sp.fields = protocol::field_error;
      t.spans.push_back(sp);
      txn.mark_exported(tid(3));
    }
    store::TraceFilter f;
    f.name = "span2";
    CHECK(s.find(f).size() == 1);
    f = {};
    f.kind = protocol::SpanKind::tool;
    CHECK(s.find(f).size() == 1);
    f = {};
    f.has_error = true;
    CHECK(s.find(f).size() == 1);
    f.has_error = false;
    CHECK(s.find(f).size() == 2);
    f = {};
    f.min_duration_ms = 10.0;
    CHECK(s.find(f).size() == 1);  // trace 2: 15 ms
    f = {};
    f.since_ns = 1'000'000'002'000'000'000LL;
    CHECK(s.find(f).size() == 2);
    f.until_ns = 1'000'000'002'000'000'000LL;
    CHECK(s.find(f).size() == 1);
    f = {};
    f.limit = 2;
    auto two = s.find(f);
    REQUIRE(two.size() == 2);
    CHECK(two[0]->trace_id == tid(3));
  }

  TEST_CASE("a reader's snapshot never changes when the trace is changed later") {
    store::TraceStore s;
    put(s, 1, 1, false);
    auto open_copy = s.get(tid(1));
    {
      auto txn = s.begin();
      txn.find_open(tid(1))->spans.push_back(Span{});
      txn.mark_exported(tid(1));
    }
    CHECK(open_copy->spans.size() == 1);
    auto frozen = s.get(tid(1));
    CHECK(frozen->spans.size() == 2);
    {
      auto txn = s.begin();
      Trace* t = txn.thaw(tid(1));
      CHECK(t != frozen.get());  // shared: thaw made a private copy
      t->spans.push_back(Span{});
      txn.refreeze(tid(1));
    }
    CHECK(frozen->spans.size() == 2);
    CHECK(s.get(tid(1))->spans.size() == 3);
  }

  TEST_CASE("thaw mutates in place when nobody else holds the trace") {
    store::TraceStore s;
    put(s, 1, 1);
    auto txn = s.begin();
    Trace* a = txn.thaw(tid(1));
    Trace* b = txn.thaw(tid(1));
    CHECK(a == b);
    CHECK(txn.find_open(tid(1)) == nullptr);  // still exported
    CHECK(txn.is_exported(tid(1)));
  }

  TEST_CASE("a trace that learns its run_id late keeps its insertion place in the run") {
    store::TraceStore s;
    put(s, 1, 1, false);  // no run yet
    put(s, 2, 1, true, "run-a");
    {
      auto txn = s.begin();
      txn.set_run_id(tid(1), "run-a");
    }
    auto run = s.list("run-a");
    REQUIRE(run.size() == 2);
    CHECK(run[0]->trace_id == tid(1));
    CHECK(run[1]->trace_id == tid(2));
    CHECK(run[0]->run_id == "run-a");
    store::TraceFilter f;
    f.run_id = "run-a";
    f.limit = 1;
    auto newest = s.find(f);
    REQUIRE(newest.size() == 1);
    CHECK(newest[0]->trace_id == tid(2));
  }

  TEST_CASE("the run index forgets evicted traces and renamed runs") {
    store::TraceStore s({2, 1u << 30});
    put(s, 1, 1, true, "run-a");
    put(s, 2, 1, true, "run-a");
    {
      auto txn = s.begin();
      txn.set_run_id(tid(2), "run-b");
    }
    CHECK(s.list("run-a").size() == 1);
    put(s, 3, 1, true, "run-a");  // evicts trace 1
    auto run = s.list("run-a");
    REQUIRE(run.size() == 1);
    CHECK(run[0]->trace_id == tid(3));
    CHECK(s.list("run-b").size() == 1);
  }

  TEST_CASE("setting a run_id on a shared exported trace leaves the snapshot unchanged") {
    store::TraceStore s;
    put(s, 1, 1, true);
    auto frozen = s.get(tid(1));
    {
      auto txn = s.begin();
      txn.set_run_id(tid(1), "run-z");
      CHECK(txn.is_exported(tid(1)));
    }
    CHECK(frozen->run_id.empty());
    CHECK(s.get(tid(1))->run_id == "run-z");
  }

  TEST_CASE("counts bytes and spans as the writer reports them") {
    store::TraceStore s;
    put(s, 1, 3);
    put(s, 2, 2);
    const auto c = s.counters();
    CHECK(c.traces == 2);
    CHECK(c.spans == 5);
    CHECK(c.inserted == 2);
    CHECK(c.bytes >= 5 * sizeof(Span));
  }
}
