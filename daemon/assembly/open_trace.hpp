#pragma once
// The assembler's bookkeeping for one trace it has not exported yet.

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>

#include "daemon/assembly/assembler.hpp"
#include "protocol/span.hpp"

namespace tracecol::assembly {

/** span_id -> position in Trace::spans. */
using SpanIndex = std::unordered_map<protocol::SpanId, std::uint32_t>;

/** Up to this many spans a linear scan beats a hash map; beyond it a trace gets a SpanIndex. */
inline constexpr std::size_t linear_scan_limit = 32;

struct OpenTrace {
  std::uint32_t roots = 0;        // spans without a parent
  std::uint32_t roots_ended = 0;
  std::uint32_t open_spans = 0;   // started, not ended
  Clock::time_point last_event;
  std::list<protocol::TraceId>::iterator lru;    // position in the activity list (all open traces)
  // The linger list the trace waits in (the assembler's ready or rootless list), if any,
  // and its position there.
  std::list<protocol::TraceId>* lingering = nullptr;
  std::list<protocol::TraceId>::iterator linger_pos;
  bool follow_up = false;  // the store evicted this id after exporting it: every span is late
  /** Built once a trace outgrows a linear scan (most agent traces never do). */
  std::unique_ptr<SpanIndex> index;

  /** Adds (+1) or removes (-1) a span's part in the completion counts. */
  void account(const protocol::Span& span, int sign) {
    if (span.parent_id == 0) {
      roots += static_cast<std::uint32_t>(sign);
      if (span.ended()) roots_ended += static_cast<std::uint32_t>(sign);
    }
    if (!span.ended()) open_spans += static_cast<std::uint32_t>(sign);
  }

  /**
   * Root ended, nothing open: the linger rule may complete the trace. A follow-up's root
   * usually went out with the evicted trace, so nothing open is enough for it.
   */
  bool ready() const { return (roots > 0 || follow_up) && roots_ended == roots && open_spans == 0; }
  /** No root yet and nothing open: the rootless linger may complete it (spans > 0: the caller's). */
  bool rootless() const { return roots == 0 && !follow_up && open_spans == 0; }
};

/**
 * True when `incoming` would take a trace of `trace_bytes` (store footprint) past
 * `max_bytes`. A new span adds its footprint; a copy merged into a known span adds at
 * most that much, so both are judged by it before anything is changed.
 */
inline bool would_exceed(std::size_t trace_bytes, const protocol::Span& incoming, std::size_t max_bytes) {
  return trace_bytes + incoming.footprint() > max_bytes;
}

/** Finds a span by id in trace.spans; uses `index` when given. */
protocol::Span* find_span(protocol::Trace& trace, protocol::SpanId id, const SpanIndex* index);
inline const protocol::Span* find_span(const protocol::Trace& trace, protocol::SpanId id, const SpanIndex* index) {
  return find_span(const_cast<protocol::Trace&>(trace), id, index);  // the lookup itself writes nothing
}

/** Records the span just appended to trace.spans; creates *index once the trace outgrows a scan. */
void index_appended(const protocol::Trace& trace, std::unique_ptr<SpanIndex>& index);

/** What merge_span did: refused (bad_time), or merged and whether the stored span changed. */
enum class Merge { refused, unchanged, changed };

/**
 * Merges a second copy of a span into the stored one. A duplicate (`is_end` false) only
 * fills fields the stored copy lacks; a span_end overwrites the end time, outputs and
 * error and merges its metadata keys into the stored metadata. refused, leaving `stored`
 * as it was, when the merge would end the span before its start (bad_time); unchanged
 * when the copy said nothing new (the same span sent twice).
 */
[[nodiscard]] Merge merge_span(protocol::Span& stored, protocol::Span&& update, bool is_end);

}  // namespace tracecol::assembly
