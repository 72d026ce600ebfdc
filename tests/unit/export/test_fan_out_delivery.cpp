// Fan-out delivery and counting: every trace to every exporter, overflow, failures,
// the published = sent + failed + dropped + pending invariant, lone spans, latency.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "daemon/export/fan_out.hpp"
#include "daemon/export/memory_exporter.hpp"
#include "export_test_support.hpp"
#include "fan_out_test_support.hpp"

namespace tracecol::exporters {
namespace {

using namespace test;

/** Reports a retry count the way an HTTP exporter would: an atomic any thread may read. */
class RetryingExporter final : public Exporter {
 public:
  std::string_view name() const override { return "retrying"; }
  ExportStatus export_trace(const protocol::Trace&) override {
    retried_.fetch_add(2, std::memory_order_relaxed);  // say every trace took three attempts
    return ExportStatus::ok;
  }
  std::uint64_t retried() const override { return retried_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> retried_{0};
};

/**
 * Queues traces of its own, as the HTTP exporter does: takes them on the publishing
 * thread, reports deliveries and its own delivery latency through handoff().
 */
class HandOffExporter final : public Exporter {
 public:
  std::string_view name() const override { return "handoff"; }
  ExportStatus export_trace(const protocol::Trace&) override { return ExportStatus::failed; }  // never called
  ExportStatus export_shared(const TracePtr& trace) override {
    std::lock_guard lock(mu_);
    if (shut_down_) ++after_shutdown_;
    threads_.insert(std::this_thread::get_id());
    held_.push_back(trace);
    return ExportStatus::ok;
  }
  bool hands_off_on_publish() const override { return true; }
  std::optional<Handoff> handoff() const override {
    std::lock_guard lock(mu_);
    Handoff h;
    h.traces_delivered = delivered_;
    for (std::size_t i = 0; i < delivered_; ++i) h.spans_delivered += held_[i]->spans.size();
    h.traces_pending = held_.size() - delivered_;
    for (std::size_t i = delivered_; i < held_.size(); ++i) h.spans_pending += held_[i]->spans.size();
    for (std::size_t i = 0; i < delivered_; ++i) h.latency.record(0.002);
    return h;
  }
  void shutdown() override {
    std::lock_guard lock(mu_);
    shut_down_ = true;
  }
  void deliver_all() {
    std::lock_guard lock(mu_);
    delivered_ = held_.size();
  }
  std::set<std::thread::id> threads() const {
    std::lock_guard lock(mu_);
    return threads_;
  }
  std::size_t after_shutdown() const {
    std::lock_guard lock(mu_);
    return after_shutdown_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<TracePtr> held_;
  std::size_t delivered_ = 0;
  std::set<std::thread::id> threads_;
  bool shut_down_ = false;
  std::size_t after_shutdown_ = 0;
};

/** The cumulative count of the latency buckets up to and including bound index i. */
std::uint64_t cumulative(const LatencyHistogram& h, std::size_t i) {
  std::uint64_t n = 0;
  for (std::size_t b = 0; b <= i; ++b) n += h.buckets[b];
  return n;
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
      CHECK(c.name.starts_with("memory"));  // memory, memory#2, memory#3
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
      // Not before the watcher runs: on a loaded machine it was first scheduled after the
      // whole load had been published and drained, and saw nothing mid-flight.
      while (snapshots.load() == 0) std::this_thread::yield();
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


  TEST_CASE("a latency sample lands in the first bucket whose bound it does not exceed") {
    LatencyHistogram h;
    h.record(0.0);
    h.record(0.0005);   // on the bound: that bucket (le is inclusive)
    h.record(0.00051);  // just over: the next
    h.record(30.0);     // the last finite bound
    h.record(31.0);     // +Inf
    CHECK(h.buckets[0] == 2);
    CHECK(h.buckets[1] == 1);
    CHECK(h.buckets[export_latency_bounds.size() - 1] == 1);
    CHECK(h.buckets[export_latency_bounds.size()] == 1);
    CHECK(h.count == 5);
    CHECK(h.sum_seconds == doctest::Approx(61.00101));
    LatencyHistogram twice = h;
    twice.merge(h);
    CHECK(twice.count == 10);
    CHECK(twice.buckets[0] == 4);
    CHECK(twice.sum_seconds == doctest::Approx(2 * h.sum_seconds));
  }

  TEST_CASE("export latency has one sample per trace exported or failed, none per dropped trace") {
    Gate gate;
    std::vector<std::string> log;
    std::mutex log_mu;
    FanOut fan;
    fan.add(std::make_unique<GatedExporter>(gate, log, log_mu), 2);
    fan.add(std::make_unique<FailingExporter>(), 100);
    fan.start();
    fan.publish(make_trace(1));
    REQUIRE(gate.wait_for_waiters(1));
    std::vector<TracePtr> batch;
    for (std::uint64_t i = 2; i <= 6; ++i) batch.push_back(make_trace(i));
    fan.publish(batch);  // gated: 2 queued, 3 dropped
    gate.open();
    REQUIRE(fan.drain(soon()));
    const auto c = fan.counters();
    CHECK(c[0].traces_sent == 3);
    CHECK(c[0].traces_dropped == 3);
    CHECK(c[0].export_latency.count == 3);
    CHECK(c[1].traces_failed == 3);
    CHECK(c[1].traces_sent == 3);
    CHECK(c[1].export_latency.count == 6);
    for (const auto& e : c) {
      CHECK(cumulative(e.export_latency, export_latency_bounds.size()) == e.export_latency.count);
      CHECK(e.export_latency.sum_seconds >= 0.0);
    }
  }

  TEST_CASE("export latency counts from publish, so time spent queued behind a blocked export is in it") {
    Gate gate;
    std::vector<std::string> log;
    std::mutex log_mu;
    FanOut fan;
    fan.add(std::make_unique<GatedExporter>(gate, log, log_mu), 10);
    fan.start();
    fan.publish(make_trace(1));
    REQUIRE(gate.wait_for_waiters(1));
    fan.publish(make_trace(2));
    // A lower bound only: both traces are still unexported at least this long after publish.
    const auto until = Clock::now() + std::chrono::milliseconds(3);
    while (Clock::now() < until) std::this_thread::yield();
    gate.open();
    REQUIRE(fan.drain(soon()));
    const auto h = fan.counters().at(0).export_latency;
    CHECK(h.count == 2);
    CHECK(cumulative(h, 2) == 0);  // nothing at or under 2.5 ms
    CHECK(h.sum_seconds >= 0.006);
  }

  TEST_CASE("counters carry each exporter's own retried count") {
    FanOut fan;
    fan.add(std::make_unique<RetryingExporter>(), 100);
    fan.add(std::make_unique<InMemoryTraceExporter>(), 100);
    fan.start();
    const TracePtr batch[] = {make_trace(1), make_trace(2), make_trace(3)};
    fan.publish(batch);
    REQUIRE(fan.drain(soon()));
    const auto c = fan.counters();
    CHECK(c[0].traces_retried == 6);
    CHECK(c[1].traces_retried == 0);  // the default: an exporter that never retries
  }

  TEST_CASE("an exporter with a queue of its own is handed traces on the publishing thread, counted by its handoff") {
    FanOut fan;
    auto owned = std::make_unique<HandOffExporter>();
    HandOffExporter* e = owned.get();
    fan.add(std::move(owned), 1);  // a fan-out queue of 1 would drop: a hand-off never queues here
    fan.start();
    const TracePtr batch[] = {make_trace(1), make_trace(2), make_trace(3)};
    fan.publish(batch);
    fan.publish(make_trace(4));
    CHECK(e->threads() == std::set<std::thread::id>{std::this_thread::get_id()});
    auto c = fan.counters()[0];
    CHECK(c.traces_published == 4);
    CHECK(c.traces_dropped == 0);
    CHECK(c.traces_sent == 0);  // handed off, not yet delivered: pending in the exporter
    CHECK(c.queue_depth == 4);
    CHECK(c.spans_pending == c.spans_published);
    CHECK(c.export_latency.count == 0);  // no sample for a hand-off
    e->deliver_all();
    REQUIRE(fan.drain(soon()));
    c = fan.counters()[0];
    CHECK(c.traces_sent == 4);
    CHECK(c.spans_sent == c.spans_published);
    CHECK(c.queue_depth == 0);
    CHECK(c.export_latency.count == 4);  // the exporter's own delivery samples
    fan.stop();
    fan.publish(make_trace(5));  // after stop: dropped and counted, never handed to a shut-down exporter
    CHECK(e->after_shutdown() == 0);
    c = fan.counters()[0];
    CHECK(c.traces_published == 5);
    CHECK(c.traces_dropped == 1);
    CHECK(c.spans_dropped_shutdown == c.spans_dropped);
    CHECK(c.spans_published == c.spans_sent + c.spans_failed + c.spans_dropped + c.spans_pending);
  }
}

}  // namespace
}  // namespace tracecol::exporters
