#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "daemon/export/fan_out.hpp"
#include "daemon/export/memory_exporter.hpp"
#include "export_test_support.hpp"

namespace tracecol::exporters {
namespace {

using test::make_trace;
using Clock = std::chrono::steady_clock;

Clock::time_point soon() { return Clock::now() + std::chrono::seconds(10); }

/** A latch the test opens; an exporter thread can wait on it and report that it waits. */
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait_for_waiters(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, soon(), [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

/** Blocks every export (or, with gate_flush, every flush) on a gate, then logs the call. */
class GatedExporter final : public Exporter {
 public:
  GatedExporter(Gate& gate, std::vector<std::string>& log, std::mutex& log_mu, bool gate_flush = false)
      : gate_(gate), log_(log), log_mu_(log_mu), gate_flush_(gate_flush) {}
  std::string_view name() const override { return "gated"; }
  ExportStatus export_trace(const protocol::Trace& t) override {
    if (!gate_flush_) gate_.wait();
    record("export " + std::to_string(t.trace_id.lo));
    return ExportStatus::ok;
  }
  void flush() override {
    if (gate_flush_) gate_.wait();
    record("flush");
  }
  void reopen() override { record("reopen"); }

 private:
  void record(std::string s) {
    std::lock_guard lock(log_mu_);
    log_.push_back(std::move(s));
  }
  Gate& gate_;
  std::vector<std::string>& log_;
  std::mutex& log_mu_;
  const bool gate_flush_;
};

class FailingExporter final : public Exporter {
 public:
  std::string_view name() const override { return "failing"; }
  ExportStatus export_trace(const protocol::Trace& t) override {
    return t.trace_id.lo % 2 == 1 ? ExportStatus::failed : ExportStatus::ok;
  }
};

/** Throws on every export: a buggy exporter. */
class ThrowingExporter final : public Exporter {
 public:
  std::string_view name() const override { return "throwing"; }
  ExportStatus export_trace(const protocol::Trace&) override { throw std::runtime_error("bug"); }
  void flush() override { throw std::runtime_error("bug"); }
};

bool invariant_holds(const ExporterCounters& c) {
  return c.traces_published == c.traces_sent + c.traces_failed + c.traces_dropped + c.queue_depth &&
         c.spans_published == c.spans_sent + c.spans_failed + c.spans_dropped + c.spans_pending;
}

void check_invariant(const ExporterCounters& c) {
  CHECK(c.traces_published == c.traces_sent + c.traces_failed + c.traces_dropped + c.queue_depth);
  CHECK(c.spans_published == c.spans_sent + c.spans_failed + c.spans_dropped + c.spans_pending);
}

TEST_SUITE("export.fan_out") {
  TEST_CASE("delivers every trace to every exporter exactly once") {
    FanOut fan;
    std::vector<InMemoryTraceExporter*> mem;
    for (int i = 0; i < 3; ++i) {
      auto e = std::make_unique<InMemoryTraceExporter>();
      mem.push_back(e.get());
      fan.add(std::move(e), 100000);
    }
    fan.start();
    constexpr int per_thread = 2000;
    auto producer = [&](std::uint64_t first) {
      std::vector<TracePtr> batch;
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        batch.push_back(make_trace(first + i, 1 + i % 4));
        if (batch.size() == 1 + i % 7) {  // batches of varying size, and single publishes
          fan.publish(batch);
          batch.clear();
        }
      }
      fan.publish(batch);
    };
    std::thread a(producer, 1);
    std::thread b(producer, 1 + per_thread);
    a.join();
    b.join();
    REQUIRE(fan.drain(soon()));
    for (auto* m : mem) {
      const auto got = m->traces();
      REQUIRE(got.size() == 2 * per_thread);
      std::set<std::uint64_t> ids;
      for (const auto& t : got) ids.insert(t->trace_id.lo);
      CHECK(ids.size() == 2 * per_thread);
      CHECK(*ids.begin() == 1);
      CHECK(*ids.rbegin() == 2 * per_thread);
      CHECK(m->flush_count() == 1);
    }
    for (const auto& c : fan.counters()) {
      CHECK(c.name == "memory");
      CHECK(c.traces_sent == 2 * per_thread);
      CHECK(c.traces_dropped == 0);
      CHECK(c.spans_sent == c.spans_published);
      check_invariant(c);
    }
    fan.stop();
  }

  TEST_CASE("a blocked exporter does not slow the others and its overflow is dropped and counted") {
    Gate gate;
    std::vector<std::string> log;
    std::mutex log_mu;
    FanOut fan;
    fan.add(std::make_unique<GatedExporter>(gate, log, log_mu), 4);
    auto mem_owned = std::make_unique<InMemoryTraceExporter>();
    auto* mem = mem_owned.get();
    fan.add(std::move(mem_owned), 1000);
    fan.start();

    fan.publish(make_trace(1, 3));
    REQUIRE(gate.wait_for_waiters(1));  // trace 1 is in flight, the queue is empty
    for (std::uint64_t i = 2; i <= 11; ++i) fan.publish(make_trace(i, 3));
    // The sibling gets everything while the gated exporter is still stuck on trace 1.
    CHECK(mem->wait_for_traces(11, soon()));
    auto c = fan.counters();
    CHECK(c[0].traces_published == 11);
    CHECK(c[0].traces_dropped == 6);   // 4 fit the queue, 1 in flight
    CHECK(c[0].spans_dropped == 18);
    CHECK(c[0].queue_depth == 5);      // 4 queued + 1 in flight
    CHECK(c[0].spans_pending == 15);
    CHECK(c[0].traces_sent == 0);
    check_invariant(c[0]);

    gate.open();
    REQUIRE(fan.drain(soon()));
    c = fan.counters();
    CHECK(c[0].traces_sent == 5);
    CHECK(c[0].spans_sent == 15);
    CHECK(c[0].traces_dropped == 6);
    CHECK(c[0].queue_depth == 0);
    CHECK(c[1].traces_sent == 11);
    CHECK(c[1].traces_dropped == 0);
    check_invariant(c[0]);
    check_invariant(c[1]);
    std::lock_guard lock(log_mu);
    REQUIRE(log.size() == 6);
    CHECK(log[0] == "export 1");
    CHECK(log[4] == "export 5");  // the first four that fit, in order
    CHECK(log[5] == "flush");
  }

  TEST_CASE("counts failed exports by traces and spans") {
    FanOut fan;
    fan.add(std::make_unique<FailingExporter>(), 100);
    fan.start();
    std::vector<TracePtr> batch;
    for (std::uint64_t i = 1; i <= 10; ++i) batch.push_back(make_trace(i, 2));
    fan.publish(batch);
    REQUIRE(fan.drain(soon()));
    const auto c = fan.counters().at(0);
    CHECK(c.traces_failed == 5);
    CHECK(c.spans_failed == 10);
    CHECK(c.traces_sent == 5);
    CHECK(c.spans_sent == 10);
    check_invariant(c);
  }

  TEST_CASE("an exporter that throws counts as failed and its worker carries on") {
    FanOut fan;
    fan.add(std::make_unique<ThrowingExporter>(), 100);
    fan.start();
    fan.publish(make_trace(1, 3));
    fan.publish(make_trace(2, 3));
    REQUIRE(fan.drain(soon()));
    const auto c = fan.counters().at(0);
    CHECK(c.traces_failed == 2);
    CHECK(c.spans_failed == 6);
    check_invariant(c);
  }

  TEST_CASE("drain waits for queued work, then flushes each exporter after its last export") {
    Gate gate;
    std::vector<std::string> log;
    std::mutex log_mu;
    FanOut fan;
    fan.add(std::make_unique<GatedExporter>(gate, log, log_mu), 100);
    fan.start();
    std::vector<TracePtr> batch;
    for (std::uint64_t i = 1; i <= 5; ++i) batch.push_back(make_trace(i));
    fan.publish(batch);
    REQUIRE(gate.wait_for_waiters(1));
    // A deadline already passed while work is stuck: false, and no flush yet.
    CHECK_FALSE(fan.drain(Clock::now()));
    auto drained = std::async(std::launch::async, [&] { return fan.drain(soon()); });
    gate.open();
    CHECK(drained.get());
    const auto c = fan.counters().at(0);  // read right after drain returned
    CHECK(c.traces_sent == 5);
    CHECK(c.queue_depth == 0);
    std::lock_guard lock(log_mu);
    REQUIRE(log.size() == 6);
    CHECK(log[4] == "export 5");
    CHECK(log[5] == "flush");
  }

  TEST_CASE("drain reports false when a flush has not finished by the deadline") {
    Gate gate;
    std::vector<std::string> log;
    std::mutex log_mu;
    FanOut fan;
    fan.add(std::make_unique<GatedExporter>(gate, log, log_mu, /*gate_flush=*/true), 100);
    fan.start();
    fan.publish(make_trace(1));
    // The queue may or may not be quiet yet, but the flush cannot finish: false either way.
    CHECK_FALSE(fan.drain(Clock::now()));
    gate.open();
    CHECK(fan.drain(soon()));
    std::lock_guard lock(log_mu);
    REQUIRE(log.size() >= 2);
    CHECK(log[0] == "export 1");
    CHECK(log.back() == "flush");
  }

  TEST_CASE("stop counts whatever is still queued as dropped") {
    Gate gate;
    std::vector<std::string> log;
    std::mutex log_mu;
    FanOut fan;
    // Room for every probe below, so the only reason to drop is stop().
    fan.add(std::make_unique<GatedExporter>(gate, log, log_mu), std::size_t{1} << 24);
    fan.start();
    fan.publish(make_trace(1, 2));
    REQUIRE(gate.wait_for_waiters(1));
    std::vector<TracePtr> batch;
    for (std::uint64_t i = 2; i <= 4; ++i) batch.push_back(make_trace(i, 2));
    fan.publish(batch);

    std::thread stopper([&] { fan.stop(); });
    // Once stop() has begun, publishing drops: that is the signal to let trace 1 finish.
    const auto probe = make_trace(99, 1);
    std::uint64_t probes = 0;
    const auto give_up = soon();
    while (fan.counters().at(0).traces_dropped == 0 && Clock::now() < give_up) {
      fan.publish(probe);
      ++probes;
      std::this_thread::yield();
    }
    gate.open();
    stopper.join();
    const auto c = fan.counters().at(0);
    REQUIRE(c.traces_dropped > 0);
    CHECK(c.traces_sent == 1);
    CHECK(probes >= 1);
    CHECK(c.traces_published == 4 + probes);
    CHECK(c.traces_dropped == c.traces_published - 1);  // 3 queued + every probe
    CHECK(c.spans_dropped == c.spans_published - 2);
    CHECK(c.queue_depth == 0);
    CHECK(c.spans_pending == 0);
    check_invariant(c);
  }

  TEST_CASE("stop without start drops the whole queue") {
    FanOut fan;
    fan.add(std::make_unique<InMemoryTraceExporter>(), 10);
    std::vector<TracePtr> batch;
    for (std::uint64_t i = 1; i <= 12; ++i) batch.push_back(make_trace(i, 1));
    fan.publish(batch);
    fan.stop();
    const auto c = fan.counters().at(0);
    CHECK(c.traces_dropped == 12);  // 2 at publish, 10 at stop
    CHECK(c.spans_dropped == 12);
    check_invariant(c);
  }

  TEST_CASE("published equals sent plus failed plus dropped plus pending under concurrent load") {
    FanOut fan;
    fan.add(std::make_unique<FailingExporter>(), 16);
    fan.add(std::make_unique<InMemoryTraceExporter>(), 64);
    fan.start();
    std::atomic<bool> done{false};
    std::atomic<int> violations{0};
    std::atomic<int> snapshots{0};
    std::thread watcher([&] {
      while (!done.load()) {
        for (const auto& c : fan.counters()) {
          if (!invariant_holds(c)) ++violations;
        }
        ++snapshots;
      }
    });
    auto producer = [&](std::uint64_t first) {
      for (std::uint64_t i = 0; i < 3000; ++i) {
        const TracePtr batch[] = {make_trace(first + 2 * i, i % 5), make_trace(first + 2 * i + 1, 1)};
        fan.publish(batch);
      }
    };
    std::thread a(producer, 1);
    std::thread b(producer, 100000);
    a.join();
    b.join();
    REQUIRE(fan.drain(soon()));
    done.store(true);
    watcher.join();
    CHECK(violations.load() == 0);  // holds even mid-flight: counters move under one lock
    CHECK(snapshots.load() > 0);
    for (const auto& c : fan.counters()) {
      CHECK(c.traces_published == 12000);
      CHECK(c.queue_depth == 0);
      check_invariant(c);
    }
    fan.stop();
    for (const auto& c : fan.counters()) check_invariant(c);
  }

  TEST_CASE("reopen_all reaches an idle exporter promptly and a busy one before its next export") {
    FanOut fan;
    auto owned = std::make_unique<InMemoryTraceExporter>();
    auto* mem = owned.get();
    fan.add(std::move(owned), 100);
    fan.start();
    fan.reopen_all();
    CHECK(mem->wait_for_reopens(1, soon()));
    fan.publish(make_trace(1));
    fan.reopen_all();
    fan.publish(make_trace(2));
    CHECK(mem->wait_for_reopens(2, soon()));
    CHECK(mem->wait_for_traces(2, soon()));
    CHECK(fan.drain(soon()));
  }

  TEST_CASE("reopen_all reaches a busy exporter between its current export and the next") {
    Gate gate;
    std::vector<std::string> log;
    std::mutex log_mu;
    FanOut fan;
    fan.add(std::make_unique<GatedExporter>(gate, log, log_mu), 100);
    fan.start();
    fan.publish(make_trace(1));
    REQUIRE(gate.wait_for_waiters(1));  // trace 1 in flight
    fan.publish(make_trace(2));
    fan.reopen_all();
    gate.open();
    REQUIRE(fan.drain(soon()));
    std::lock_guard lock(log_mu);
    CHECK(log == std::vector<std::string>{"export 1", "reopen", "export 2", "flush"});
  }

  TEST_CASE("lock-free queue gauges agree with the counters") {
    Gate gate;
    std::vector<std::string> log;
    std::mutex log_mu;
    FanOut fan;
    fan.add(std::make_unique<GatedExporter>(gate, log, log_mu), 3);
    fan.start();
    fan.publish(make_trace(1, 2));
    REQUIRE(gate.wait_for_waiters(1));
    const TracePtr batch[] = {make_trace(2, 3), make_trace(3, 4), make_trace(4, 1), make_trace(5, 9)};
    fan.publish(batch);
    const auto c = fan.counters().at(0);
    CHECK(fan.queue_depth(0) == c.queue_depth);
    CHECK(fan.spans_pending(0) == c.spans_pending);
    CHECK(c.queue_depth == 4);     // 1 in flight + 3 queued; trace 5 dropped
    CHECK(c.spans_pending == 10);  // 2 + 3 + 4 + 1
    CHECK(c.spans_dropped == 9);
    gate.open();
    REQUIRE(fan.drain(soon()));
    CHECK(fan.queue_depth(0) == 0);
    CHECK(fan.spans_pending(0) == 0);
  }

  TEST_CASE("publish_spans reaches only exporters that want spans") {
    FanOut fan;
    auto with = std::make_unique<InMemoryTraceExporter>(true);
    auto without = std::make_unique<InMemoryTraceExporter>(false);
    auto* w = with.get();
    auto* wo = without.get();
    fan.add(std::move(with), 2);
    fan.add(std::move(without), 2);
    fan.start();
    const auto t = make_trace(7, 3);
    std::vector<std::shared_ptr<const protocol::Span>> spans;
    for (const auto& s : t->spans) spans.push_back(std::make_shared<const protocol::Span>(s));
    fan.publish_spans(spans);  // three spans, room for two
    REQUIRE(fan.drain(soon()));
    CHECK(wo->spans().empty());
    const auto c = fan.counters();
    CHECK(c[0].spans_published == 3);
    CHECK(c[0].spans_sent == 2);
    CHECK(c[0].spans_dropped == 1);
    CHECK(w->spans().size() == 2);
    CHECK(c[1].spans_published == 0);
    check_invariant(c[0]);
  }
}

}  // namespace
}  // namespace tracecol::exporters
