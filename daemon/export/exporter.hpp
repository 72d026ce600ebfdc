#pragma once
// The exporter contract (DESIGN.md), with a result so the fan-out can count failures:
// nothing is lost silently.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/export/latency_histogram.hpp"
#include "protocol/span.hpp"

namespace tracecol::exporters {

using TracePtr = std::shared_ptr<const protocol::Trace>;
using SpanPtr = std::shared_ptr<const protocol::Span>;

enum class ExportStatus { ok, failed };

/**
 * One destination for finished traces. Each exporter is driven by exactly one worker
 * thread of the fan-out, so implementations need no locking of their own; every call
 * below comes from that thread (except export_shared of an exporter that
 * hands_off_on_publish(), which locks for itself). A call may block (slow disk, slow network): only this
 * exporter's queue backs up. Report failure by returning ExportStatus::failed, not by
 * throwing; a call that throws anyway counts as failed and the worker carries on.
 */
class Exporter {
 public:
  virtual ~Exporter() = default;

  /** Short stable name for logs and metrics labels ("console", "ndjson", "memory"). */
  virtual std::string_view name() const = 0;
  /**
   * The fan-out renames a second exporter of the same name (two --export-http URLs on one
   * host:port) so /metrics labels and log lines tell them apart; an exporter whose own
   * log lines carry its name takes the new one. Before start().
   */
  virtual void rename(std::string name) { (void)name; }

  /** Each finished trace (or late-span follow-up record), exactly once. */
  virtual ExportStatus export_trace(const protocol::Trace& trace) = 0;

  /**
   * What the fan-out calls: the same, with the frozen trace it shares with the store. The
   * default exports *trace; an exporter that holds traces in a queue of its own (HTTP)
   * keeps the pointer instead of a copy or an encoding.
   */
  virtual ExportStatus export_shared(const TracePtr& trace) { return export_trace(*trace); }

  /**
   * True when export_shared only hands the trace to a queue of the exporter's own, never
   * blocks and may be called from any thread (HTTP). The fan-out then calls it on the
   * publishing thread instead of waking a worker per trace: a thread hop and a wake-up
   * saved per trace, for a lock the call takes anyway. Other calls still come from the
   * exporter's worker.
   */
  virtual bool hands_off_on_publish() const { return false; }

  /** Each finished span, as soon as it finishes; only called when wants_spans(). */
  virtual ExportStatus export_span(const protocol::Span&) { return ExportStatus::ok; }
  virtual bool wants_spans() const { return false; }

  /** Make everything exported so far durable / visible (fsync, HTTP flush). */
  virtual void flush() {}

  /** SIGHUP: reopen files (log rotation by an outside tool). */
  virtual void reopen() {}

  /** Export attempts repeated after a failure, so far. Any thread (an atomic where counted). */
  virtual std::uint64_t retried() const { return 0; }

  /**
   * For an exporter that returns ok once a trace is in a queue of its own (HTTP): what
   * became of the traces it took since, so the fan-out's counters report deliveries, not
   * hand-offs. Every taken trace is in exactly one of delivered, failed, dropped, pending.
   * nullopt (the default): ok from export_trace means delivered. Any thread.
   */
  struct Handoff {
    std::uint64_t traces_delivered = 0, spans_delivered = 0;
    std::uint64_t traces_failed = 0, spans_failed = 0;    // rejected by the far end, not retried
    std::uint64_t traces_dropped = 0, spans_dropped = 0;  // own queue overflow, gave up, shutdown
    std::uint64_t traces_pending = 0, spans_pending = 0;  // queued or in flight now
    // Of the delivered spans, those the receiver said it rejected (OTLP partial success):
    // outside the identity, the request was delivered.
    std::uint64_t spans_rejected_by_receiver = 0;
    // One sample per delivered or failed trace, from export_shared to the answer that
    // settled it: the fan-out's own sample would only time the hand-off.
    LatencyHistogram latency;
  };
  virtual std::optional<Handoff> handoff() const { return std::nullopt; }

  /**
   * Stop now: the fan-out calls this once its worker is gone (after the drain budget).
   * Whatever the exporter still holds is dropped and counted, so the exit summary printed
   * next is final. The default does nothing (nothing is held beyond export_trace).
   */
  virtual void shutdown() {}
};

}  // namespace tracecol::exporters
