#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "protocol/encoder.hpp"
#include "tests/unit/assembly/assembler_rig.hpp"

using namespace tracecol;
using namespace tracecol::assembly::testing;
using namespace std::chrono_literals;

namespace {

/** What GET /api/traces/{id} must answer: the encoder's record of the stored trace now. */
std::string fresh(const store::TraceStore& s, std::uint64_t n) {
  std::string out;
  protocol::append_trace_json(out, *s.get(tid(n)));
  return out;
}

/** A completed (exported) two-span trace n in the rig's store. */
void complete_trace(Rig& r, std::uint64_t n) {
  r.apply({span_event(n, 1, 0), span_event(n, 2, 1), trace_end(n)});
  REQUIRE(r.store.get(tid(n)) != nullptr);
}

}  // namespace

TEST_SUITE("trace json cache") {
  TEST_CASE("a completed trace is rendered once and the same bytes are shared afterwards") {
    Rig r;
    complete_trace(r, 1);
    auto first = r.store.get_json(tid(1));
    auto second = r.store.get_json(tid(1));
    REQUIRE(first != nullptr);
    CHECK(first == second);  // the very same bytes, not an equal copy
    CHECK(first->view() == fresh(r.store, 1));
    const auto c = r.store.counters();
    CHECK(c.json_cache_misses == 1);
    CHECK(c.json_cache_hits == 1);
    CHECK(c.json_cache_traces == 1);
    CHECK(c.json_cache_bytes >= first->size());
    CHECK(first->mapped());  // kept: in pages of its own, off the huge-page heap
    CHECK(r.store.get_json(tid(2)) == nullptr);
  }

  TEST_CASE("a late span merged into a completed trace replaces the cached record") {
    Rig r;
    complete_trace(r, 1);
    auto before = r.store.get_json(tid(1));
    REQUIRE(before != nullptr);
    CHECK(before->view().find("\"ok\":true") == std::string::npos);
    r.apply({end_event(1, 2)});  // span 2 learns outputs and metadata: merged into the stored copy
    REQUIRE(r.assembler.counters().spans_merged == 1);
    auto after = r.store.get_json(tid(1));
    REQUIRE(after != nullptr);
    CHECK(after != before);
    CHECK(after->view() == fresh(r.store, 1));
    CHECK(after->view().find("\"ok\":true") != std::string::npos);
    CHECK(before->view().find("\"ok\":true") == std::string::npos);  // a reader's bytes never change
    CHECK(r.store.get_json(tid(1)) == after);                 // and the new record is cached again
    CHECK(r.store.counters().json_cache_traces == 1);
  }

  TEST_CASE("a merge invalidates the record even when nobody holds the trace (thaw in place)") {
    Rig r;
    complete_trace(r, 1);
    r.published.clear();  // the rig no longer holds the snapshot: thaw mutates it in place
    (void)r.store.get_json(tid(1));
    r.apply({end_event(1, 1)});
    CHECK(r.store.get_json(tid(1))->view() == fresh(r.store, 1));
    CHECK(r.store.get_json(tid(1))->view().find("\"ok\":true") != std::string::npos);
  }

  TEST_CASE("a new late span and a late run_id both show in the next answer") {
    Rig r;
    complete_trace(r, 1);
    const auto spans_before = r.store.get_json(tid(1));
    r.apply({span_event(1, 3, 1)});  // a new span after the trace was exported
    auto with_late = r.store.get_json(tid(1));
    CHECK(with_late != spans_before);
    CHECK(with_late->view() == fresh(r.store, 1));
    CHECK(with_late->view().find("\"late\":true") != std::string::npos);
    {
      auto txn = r.store.begin();
      txn.set_run_id(tid(1), "run-late");
    }
    auto with_run = r.store.get_json(tid(1));
    CHECK(with_run->view() == fresh(r.store, 1));
    CHECK(with_run->view().find("\"run_id\":\"run-late\"") != std::string::npos);
  }

  TEST_CASE("an open trace is rendered on every call and never cached") {
    Rig r;
    r.apply({span_event(1, 1, 0)});
    auto one = r.store.get_json(tid(1));
    REQUIRE(one != nullptr);
    r.apply({span_event(1, 2, 1)});
    auto two = r.store.get_json(tid(1));
    CHECK(two->view() == fresh(r.store, 1));
    CHECK(one->view() != two->view());
    CHECK_FALSE(two->mapped());  // answered once and dropped: no mapping to make and undo
    CHECK(r.store.counters().json_cache_traces == 0);
    CHECK(r.store.counters().json_cache_bytes == 0);
  }

  TEST_CASE("evicted traces give their cached bytes back") {
    Rig r({}, store::StoreLimits{2, 1u << 30});
    complete_trace(r, 1);
    complete_trace(r, 2);
    (void)r.store.get_json(tid(1));
    (void)r.store.get_json(tid(2));
    CHECK(r.store.counters().json_cache_traces == 2);
    complete_trace(r, 3);  // evicts trace 1
    complete_trace(r, 4);  // evicts trace 2
    const auto c = r.store.counters();
    CHECK(c.json_cache_traces == 0);
    CHECK(c.json_cache_bytes == 0);
  }

  TEST_CASE("past its byte bound the cache serves fresh renders without keeping them") {
    Rig r;
    r.store.set_max_json_bytes(0);  // disabled
    complete_trace(r, 1);
    auto a = r.store.get_json(tid(1));
    auto b = r.store.get_json(tid(1));
    CHECK(a != b);
    CHECK(a->view() == b->view());
    CHECK_FALSE(a->mapped());
    CHECK(r.store.counters().json_cache_bytes == 0);

    Rig sized;
    complete_trace(sized, 1);
    const std::size_t record = sized.store.get_json(tid(1))->footprint();
    Rig bounded;
    bounded.store.set_max_json_bytes(record + record / 2);  // room for one record, not two
    complete_trace(bounded, 1);
    complete_trace(bounded, 2);
    (void)bounded.store.get_json(tid(1));
    (void)bounded.store.get_json(tid(2));
    CHECK(bounded.store.counters().json_cache_traces == 1);
    CHECK(bounded.store.counters().json_cache_bytes <= record + record / 2);
    CHECK(bounded.store.get_json(tid(2))->view() == fresh(bounded.store, 2));
  }

  TEST_CASE("readers racing late spans always end on the record of the trace as stored") {
    Rig r;
    complete_trace(r, 1);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> reads{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i)
      readers.emplace_back([&] {
        while (!stop.load()) {
          auto j = r.store.get_json(tid(1));
          if (j && j->size() != 0) reads.fetch_add(1);
        }
      });
    // Both readers are reading before the writer starts (a loaded box may not have run them yet).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (reads.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    if (reads.load() < 2) {  // never leave joinable threads behind a failed REQUIRE
      stop = true;
      for (auto& t : readers) t.join();
    }
    REQUIRE(reads.load() >= 2);
    // The writer's thread: new late spans and merges while the readers render and publish.
    for (protocol::SpanId id = 3; id < 203; ++id) {
      r.apply({span_event(1, id, 1)});
      if (id % 3 == 0) r.apply({end_event(1, id)});
    }
    stop = true;
    for (auto& t : readers) t.join();
    CHECK(r.store.get_json(tid(1))->view() == fresh(r.store, 1));
  }
}
