#pragma once
// Assembler: decoded events -> traces. Applies the completion rules of DESIGN.md, keeps
// every span in the TraceStore, and hands finished traces (and late-span follow-ups) to
// the publish callback, minus the ones sampling leaves out. Pure logic: no I/O, no
// threads, time comes in as a parameter so tests drive a fake clock.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "protocol/event.hpp"
#include "protocol/reject_reason.hpp"
#include "daemon/store/trace_store.hpp"

namespace tracecol::assembly {

using Clock = std::chrono::steady_clock;
using TracePtr = std::shared_ptr<const protocol::Trace>;

struct AssemblerOptions {
  Clock::duration trace_linger = std::chrono::seconds(1);      // root ended, nothing open, quiet this long
  // No root span, nothing open, quiet this long -> complete. An OTLP service's local root
  // has a remote parent (traceparent), so its trace never has a root of its own.
  Clock::duration trace_rootless_linger = std::chrono::seconds(60);
  Clock::duration trace_idle_timeout = std::chrono::minutes(5); // no event this long -> complete:false
  std::size_t max_spans_per_trace = 10000;
  std::size_t max_trace_bytes = 64u << 20;  // footprint of one trace; past it spans are refused (trace_too_large)
  // Ids of evicted traces kept to tell a late span from a new trace (~50 bytes each).
  std::size_t evicted_ids_remembered = 16384;
  double sample_rate = 1.0;            // fraction of traces exported, decided from trace_id
  bool sample_keep_errors = true;      // traces with an error are exported regardless
};

/** Monotonic counters; read at any time from any thread. */
struct AssemblerCounters {
  std::uint64_t spans_accepted = 0;        // new spans added to a trace
  std::uint64_t spans_merged = 0;          // duplicates / span_end merged into a known span
  std::uint64_t spans_late = 0;            // accepted after their trace was exported
  std::uint64_t spans_rejected = 0;        // too_many_spans, trace_too_large, or a merge ending a span before its start (bad_time)
  std::uint64_t traces_started = 0;
  std::uint64_t traces_completed = 0;      // by trace_end / trace / linger
  std::uint64_t traces_timed_out = 0;      // idle timeout (complete:false)
  std::uint64_t traces_flushed_open = 0;   // exported open at shutdown or eviction
  std::uint64_t traces_published = 0;      // handed to the fan-out (incl. follow-ups)
  std::uint64_t follow_ups_published = 0;
  std::uint64_t traces_sampled_out = 0;
  std::uint64_t spans_published = 0;       // spans inside published records
  std::uint64_t spans_sampled_out = 0;
  // Follow-up copies of spans exported before that changed since (a span_end after its
  // trace timed out): not new spans, so outside spans_accepted's identity.
  std::uint64_t span_updates_published = 0;
  std::uint64_t span_updates_sampled_out = 0;
  std::uint64_t trace_ends_ignored = 0;    // trace_end for a trace never seen (or evicted)
  // Gauge: spans in traces not exported yet. At a quiet moment (no apply or tick running)
  // spans_accepted = spans_published + spans_sampled_out + spans_open (docs/metrics.md).
  std::uint64_t spans_open = 0;
};

/** An event the assembler refused, by its index in the applied batch. */
struct Rejection {
  std::size_t index;
  protocol::RejectReason reason;
};

/** A span copy that changed nothing (the same span sent again), by event index and span id. */
struct Unchanged {
  std::size_t index;
  protocol::SpanId span_id;
};

/** True when sample_rate keeps this trace; the same answer on every sidecar. */
bool sampled_in(const protocol::TraceId& id, double sample_rate);

/** Not thread-safe: one owner (the assembler strand) calls everything. */
class Assembler {
 public:
  /** Receives the traces finished by one call, in completion order. */
  using Publish = std::function<void(std::vector<TracePtr>&& traces)>;

  Assembler(AssemblerOptions options, store::TraceStore& store, Publish publish);
  ~Assembler();
  Assembler(const Assembler&) = delete;
  Assembler& operator=(const Assembler&) = delete;

  /**
   * Applies events in order (flush and hello events are skipped). Events are consumed
   * (spans moved out). Appends the assembler's own rejections to *rejected, and the span
   * copies that changed nothing to *unchanged, when given (both in event order).
   */
  void apply(std::span<protocol::Event> events, Clock::time_point now,
             std::vector<Rejection>* rejected = nullptr, std::vector<Unchanged>* unchanged = nullptr);

  /** Completes traces whose linger or idle timeout has passed. */
  void tick(Clock::time_point now);

  /**
   * When tick() next has work: the earliest linger deadline of a ready trace or idle
   * deadline of any open trace (time_point::max() when nothing is open). O(1).
   */
  Clock::time_point next_deadline() const;

  /** Shutdown: exports every open trace as it stands (complete:false unless ready). */
  void finish_all();

  std::size_t open_traces() const;
  AssemblerCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tracecol::assembly
