// Fan-out lifecycle: drain and its flushes, stop, SIGHUP reopen, the lock-free gauges.

#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/export/fan_out.hpp"
#include "daemon/export/memory_exporter.hpp"
#include "export_test_support.hpp"
#include "fan_out_test_support.hpp"

namespace tracecol::exporters {
namespace {

using namespace test;

TEST_SUITE("export.fan_out") {
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

  TEST_CASE("a second exporter of the same name gets a name of its own, the first keeps its own") {
    FanOut fan;
    fan.add(std::make_unique<FailingExporter>(), 10);
    fan.add(std::make_unique<FailingExporter>(), 10);
    fan.add(std::make_unique<FailingExporter>(), 10);
    const auto counters = fan.counters();
    REQUIRE(counters.size() == 3);
    CHECK(counters[0].name == "failing");
    CHECK(counters[1].name == "failing#2");
    CHECK(counters[2].name == "failing#3");
  }

  TEST_CASE("a slow batch shows in the counters as it goes, not only when it ends") {
    // A full disk: every record fails after its retries (here 30 ms each), 40 in one batch.
    class SlowFailing final : public Exporter {
     public:
      std::string_view name() const override { return "slow"; }
      ExportStatus export_trace(const protocol::Trace&) override {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        return ExportStatus::failed;
      }
    };
    FanOut fan;
    fan.add(std::make_unique<SlowFailing>(), 100);
    std::vector<TracePtr> batch;
    for (std::uint64_t i = 1; i <= 40; ++i) batch.push_back(make_trace(i));
    fan.publish(batch);  // queued before start: the worker takes all 40 at once
    fan.start();
    bool seen_midway = false;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      const auto c = fan.counters()[0];
      CHECK(invariant_holds(c));
      if (c.traces_failed > 0 && c.traces_failed < 40) seen_midway = true;
      if (c.traces_failed == 40) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(seen_midway);
    CHECK(fan.counters()[0].traces_failed == 40);
    fan.stop();
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

}

}  // namespace
}  // namespace tracecol::exporters
