#pragma once
// Spans that arrive for an already exported trace, within one Assembler::apply().

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "daemon/assembly/open_trace.hpp"
#include "daemon/store/trace_store.hpp"

namespace tracecol::assembly {

/**
 * Adds late spans to the stored (thawed, then refrozen) trace and collects the new ones
 * into one follow-up record per trace: Trace{trace_id, run_id, complete, follow_up,
 * just the late spans}. A copy of a span already exported is merged into the stored
 * span; it is collected (flagged late) only when it changed the span, so a span sent
 * twice is published once, and the end of a span exported open is published. Big traces get a span index
 * built on first use and kept across applies (at most max_indexes of them), so a stream
 * of late copies for one big trace costs O(1) each, not O(trace). Owned by the
 * assembler; not thread-safe.
 */
class LateSpans {
 public:
  /**
   * merged: a copy changed the stored span (it goes out as an update); unchanged: a copy
   * said nothing new; too_many_spans: the trace is full; trace_too_large: the span would
   * take it past max_bytes; bad_time: the merge would end the span before its start.
   */
  enum class Outcome { merged, unchanged, added, too_many_spans, trace_too_large, bad_time };

  /** Precondition: the store holds span.trace_id exported. */
  Outcome add(store::TraceStore::Transaction& txn, protocol::Span&& span, bool is_end, std::size_t max_spans,
              std::size_t max_bytes);
  /** A new trace takes this id in the store (the old one was evicted): its index is stale. */
  void forget(const protocol::TraceId& id) { traces_.erase(id); }
  /**
   * Marks each span of this apply's records whose parent the stored trace does not hold
   * as an orphan (a record holds only late spans, so its own tree cannot tell). Call once
   * the apply's spans are all in, inside its transaction.
   */
  void settle(store::TraceStore::Transaction& txn);
  /** The follow-up records collected since the last take(), in first-late-span order. */
  std::vector<std::shared_ptr<protocol::Trace>> take();

  static constexpr std::size_t max_indexes = 16;  // bounds memory: each may cover max_spans_per_trace spans

 private:
  static constexpr std::size_t no_record = static_cast<std::size_t>(-1);
  struct PerTrace {
    std::size_t record = no_record;   // index in records_ (this apply only)
    std::unique_ptr<SpanIndex> index; // for traces past linear_scan_limit
    std::size_t indexed_spans = 0;    // trace size the index describes: a mismatch means rebuild
  };
  /** This apply's follow-up record of one trace. */
  struct Record {
    protocol::Trace& trace;
    /** A late span new to the trace: it cannot be in the record yet. */
    void add(protocol::Span&& span) { trace.spans.push_back(std::move(span)); }
    /** An update: replaces the copy already in the record (added or updated in this apply), else appends. */
    void put_update(protocol::Span&& span);
  };
  Record record_of(PerTrace& late, const protocol::Trace& stored);
  std::unordered_map<protocol::TraceId, PerTrace, protocol::TraceIdHash> traces_;
  std::vector<std::shared_ptr<protocol::Trace>> records_;
};

}  // namespace tracecol::assembly
