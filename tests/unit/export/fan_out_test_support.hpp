#pragma once
// Test doubles shared by the fan-out tests: a gate the test opens, exporters that block,
// fail or throw, and the counter invariant.

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/export/exporter.hpp"
#include "daemon/export/fan_out.hpp"

namespace tracecol::exporters::test {

using Clock = std::chrono::steady_clock;

inline Clock::time_point soon() { return Clock::now() + std::chrono::seconds(10); }

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

/** Fails every trace with an odd id. */
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

inline bool invariant_holds(const ExporterCounters& c) {
  return c.traces_published == c.traces_sent + c.traces_failed + c.traces_dropped + c.queue_depth &&
         c.spans_published == c.spans_sent + c.spans_failed + c.spans_dropped + c.spans_pending;
}

inline void check_invariant(const ExporterCounters& c) {
  CHECK(c.traces_published == c.traces_sent + c.traces_failed + c.traces_dropped + c.queue_depth);
  CHECK(c.spans_published == c.spans_sent + c.spans_failed + c.spans_dropped + c.spans_pending);
}

}  // namespace tracecol::exporters::test
