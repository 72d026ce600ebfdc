#pragma once
// Fan-out: one bounded queue and one worker thread per exporter, so a slow or dead
// exporter never slows ingest or its siblings. Overflow drops (and counts); publishing
// never blocks. An exporter with a queue of its own (Exporter::hands_off_on_publish) is
// handed each trace on the publishing thread; its worker only flushes and reopens.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "daemon/export/exporter.hpp"

namespace tracecol::exporters {

/** Counters for one exporter; traces and the spans inside them are counted separately. */
struct ExporterCounters {
  std::string name;
  // Invariant at every quiet moment (nothing in flight):
  // published = sent + failed + dropped + pending, for traces and for spans alike.
  std::uint64_t traces_published = 0;  // traces handed to publish()
  std::uint64_t spans_published = 0;   // spans inside them, plus lone spans from publish_spans()
  std::uint64_t traces_sent = 0;      // export_trace returned ok
  std::uint64_t spans_sent = 0;
  std::uint64_t traces_failed = 0;    // export_trace returned failed (exporter gave up)
  std::uint64_t spans_failed = 0;
  std::uint64_t traces_dropped = 0;   // queue full when published, or still queued at stop()
  std::uint64_t spans_dropped = 0;
  std::uint64_t queue_depth = 0;      // traces waiting now (queued or being exported)
  std::uint64_t spans_pending = 0;    // spans inside those traces, plus queued lone spans
  std::uint64_t traces_retried = 0;   // the exporter's own retried() (attempts repeated), read at snapshot
  std::uint64_t spans_rejected_by_receiver = 0;  // of spans_sent, rejected in a 2xx answer (OTLP partial success)
  // Exact accounting (docs/metrics.md). Of spans_published, those that came as lone spans
  // (publish_spans: the live stream's feed), not inside trace records:
  std::uint64_t lone_spans_published = 0;
  // Of spans_dropped, why: the fan-out queue was full at publish, or still held the spans
  // when the fan-out stopped. The rest of spans_dropped was dropped inside the exporter
  // (its own queue, retries given up, its shutdown: Exporter::Handoff).
  std::uint64_t spans_dropped_queue_full = 0;
  std::uint64_t spans_dropped_shutdown = 0;
  LatencyHistogram export_latency;    // one sample per trace export_trace returned for (sent or failed)
};

class FanOut {
 public:
  FanOut();
  ~FanOut();  // stops workers without draining; call drain() first for a clean exit
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  /** Before start(): adds an exporter with a queue of at most queue_capacity traces. */
  void add(std::unique_ptr<Exporter> exporter, std::size_t queue_capacity = 10000);
  void start();

  /** Any thread; never blocks on an exporter. Takes one lock per exporter per call. */
  void publish(std::span<const TracePtr> traces);
  void publish(const TracePtr& trace) { publish(std::span<const TracePtr>(&trace, 1)); }

  /**
   * Spans as they finish, for exporters that want_spans(); others never see them. Each
   * exporter's lone-span queue holds at most queue_capacity spans; overflow is dropped
   * and counted in spans_dropped.
   */
  void publish_spans(std::span<const std::shared_ptr<const protocol::Span>> spans);

  /** Asks every worker to call reopen() before its next export (SIGHUP). */
  void reopen_all();

  /**
   * Waits (on a condition variable) until every queue is empty and no export is in
   * flight, then has each worker call flush() on its exporter, and waits for those
   * flushes. Returns true when everything was exported and flushed by the deadline.
   * Publishing may go on meanwhile; a requested flush is never postponed by new work.
   */
  bool drain(std::chrono::steady_clock::time_point deadline);

  /**
   * Stops the workers; whatever is still queued is counted as dropped. Waits for each
   * exporter's current call to return (an export call cannot be interrupted); the rest
   * of that worker's batch is dropped. Publishing after stop() drops and counts.
   */
  void stop();

  /** A consistent snapshot (each exporter's counters read under its lock). Any thread. */
  std::vector<ExporterCounters> counters() const;
  std::size_t size() const;

  /**
   * Lock-free gauges for exporter i (in add() order): traces waiting (queued or being
   * exported) and the spans inside them plus queued lone spans. Any thread, any time;
   * they may lag counters() by one update.
   */
  std::uint64_t queue_depth(std::size_t i) const;
  std::uint64_t spans_pending(std::size_t i) const;

 private:
  struct Worker;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace tracecol::exporters
