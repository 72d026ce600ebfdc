#pragma once
// TraceStore: recent traces in memory, bounded by count and bytes, oldest evicted first.
// One writer (the assembler's thread) mutates it inside a Transaction that holds the
// write lock for a whole batch; readers (HTTP queries, tests) take the shared lock and
// get snapshots they may keep.
//
// Reference rule: a Trace& / Trace* handed out by a Transaction (insert, find_open, thaw)
// stays valid until the next insert() or the end of the Transaction, whichever is first:
// insert() may evict older traces (never the one it returns) and the destructor evicts
// by bytes. Callers must not keep a Trace* across insert() calls.

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/store/trace_record.hpp"
#include "protocol/span.hpp"

namespace tracecol::store {

using TracePtr = std::shared_ptr<const protocol::Trace>;

/**
 * What the store itself spends per trace besides its spans, counted in bytes at insert:
 * the index and order nodes, the shared Trace and the spans' heap block (measured with
 * mallinfo2 by test_store_memory.cpp: 368-391 bytes on glibc x86-64).
 */
inline constexpr std::size_t trace_overhead_bytes = 384;

struct StoreLimits {
  std::size_t max_traces = 1000;            // the seed's max_traces
  std::size_t max_bytes = 256u << 20;       // sum of span footprints
};

/** Seed's store filter; every set member must match (empty/unset = any). */
struct TraceFilter {
  std::string run_id;                        // trace.run_id equals
  std::string name;                          // some span's name equals
  std::optional<protocol::SpanKind> kind;    // some span has this kind
  std::optional<bool> has_error;             // error_count > 0 (or == 0 for false)
  std::optional<double> min_duration_ms;     // trace duration (ended traces only)
  // Trace started at or after / at or before; unbounded by default. Not 0 for "unset":
  // until=0 (the epoch) is a bound a client may ask for, and must match nothing after it.
  std::int64_t since_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t until_ns = std::numeric_limits<std::int64_t>::max();
  std::string q;                             // some span's name, error, or inputs/outputs/metadata JSON text contains it
  std::vector<std::pair<std::string, std::string>> meta;  // each (KEY, VALUE): some span's metadata_has(KEY, VALUE)
  std::size_t limit = 20;                    // newest first, at most this many
};

/**
 * The one matcher behind find() and the live stream (GET /api/stream): true when the
 * trace passes every set member of filter (limit is ignored). Pure; any thread.
 */
bool trace_matches(const protocol::Trace& trace, const TraceFilter& filter);

/**
 * The same filter on one span, for span events: run_id, name, kind, error (the span's
 * own error), min_duration_ms (the span's; an open span fails it), since/until (the
 * span's start), q and meta all read the span itself.
 */
bool span_matches(const protocol::Span& span, const TraceFilter& filter);

/**
 * q: a case-sensitive substring of the span's name, its error message, or the raw JSON
 * text of its inputs, outputs or metadata (as stored: keys included, escapes as sent).
 * An empty q matches every span.
 */
bool span_contains_text(const protocol::Span& span, std::string_view q);

/**
 * meta.KEY=VALUE: metadata_json (a validated JSON object) has the top-level KEY whose
 * value is the string VALUE (after unescaping), or whose JSON text, for any other
 * value, equals VALUE ("42", "true", "null", "{\"a\":1}"). False for malformed text.
 */
bool metadata_has(std::string_view metadata_json, std::string_view key, std::string_view value);

struct StoreCounters {
  std::uint64_t traces = 0;             // held now
  std::uint64_t spans = 0;              // held now
  std::uint64_t bytes = 0;              // held now (footprints)
  std::uint64_t inserted = 0;           // traces ever inserted
  std::uint64_t evicted_max_traces = 0; // traces evicted by --max-traces
  std::uint64_t evicted_max_bytes = 0;  // traces evicted by --max-store-bytes
  std::uint64_t evicted_open = 0;       // of those, still open (exported first by the callback)
  // get_json's cache of frozen traces' JSON records (bounded by StoreLimits::max_json_bytes).
  std::uint64_t json_cache_traces = 0;  // records held now
  std::uint64_t json_cache_bytes = 0;   // their memory (whole pages), held now
  std::uint64_t json_cache_hits = 0;    // get_json answered from the cache
  std::uint64_t json_cache_misses = 0;  // get_json rendered a frozen trace (then cached it when room)
  // Spans, for the accounting identity spans_inserted = spans + spans_evicted_max_traces
  // + spans_evicted_max_bytes (docs/metrics.md). A merge adds no span.
  std::uint64_t spans_inserted = 0;           // spans ever added to a held trace
  std::uint64_t spans_evicted_max_traces = 0; // spans inside the traces evicted by --max-traces
  std::uint64_t spans_evicted_max_bytes = 0;  // spans inside the traces evicted by --max-store-bytes
};

class TraceStore {
 public:
  /**
   * Called (inside the Transaction, on the writer's thread) for each evicted trace. One
   * never handed to the exporters (exported = false) is for the owner to export first;
   * for either, the owner learns the id is gone. The trace is moved out to the callback.
   */
  using Evicted = std::function<void(std::shared_ptr<protocol::Trace>&& trace, bool exported)>;

  explicit TraceStore(StoreLimits limits = {});
  ~TraceStore();
  TraceStore(const TraceStore&) = delete;
  TraceStore& operator=(const TraceStore&) = delete;

  void set_evict_callback(Evicted callback);
  /**
   * Bound on get_json's cached records (their capacity), counted apart from max_bytes so
   * a query never evicts a trace; default max_bytes / 2; 0 turns the cache off. Before
   * the store is shared between threads.
   */
  void set_max_json_bytes(std::size_t bytes);

  /** Write access for one batch; holds the write lock until destroyed. Writer thread only. */
  class Transaction {
   public:
    ~Transaction();  // evicts down to the limits, then unlocks
    Transaction(Transaction&&) noexcept;
    Transaction(const Transaction&) = delete;

    /** The mutable trace, or nullptr. Never returns an exported (frozen) trace: use thaw(). */
    protocol::Trace* find_open(const protocol::TraceId& id);
    /** Read-only look at a held trace (open or exported), or nullptr; never copies. */
    const protocol::Trace* peek(const protocol::TraceId& id) const;
    /** True when the store holds this trace (open or exported). */
    bool contains(const protocol::TraceId& id) const;
    bool is_exported(const protocol::TraceId& id) const;
    /** Inserts an empty open trace as the newest (precondition: !contains(id)). O(1). */
    protocol::Trace& insert(const protocol::TraceId& id);
    /** The footprint bytes counted for a held trace (0 when absent). */
    std::size_t bytes_of(const protocol::TraceId& id) const;
    /** Records that a span footprint was added to / removed from a held trace. */
    void add_bytes(const protocol::TraceId& id, std::ptrdiff_t delta, std::ptrdiff_t spans_delta);
    /**
     * Freezes an open trace and returns the shared snapshot to export. After this the
     * trace is never mutated in place again.
     */
    TracePtr mark_exported(const protocol::TraceId& id);
    /**
     * Mutable access to an exported trace (for late spans): replaces the stored trace with
     * a private copy (readers and exporters keep the old one), which stays exported.
     */
    protocol::Trace* thaw(const protocol::TraceId& id);
    /** Re-freezes a thawed trace after the late spans were added. */
    void refreeze(const protocol::TraceId& id);
    /**
     * Sets trace.run_id and indexes the trace under it (it keeps its insertion position
     * in list(run_id)). On an exported trace it writes into a private copy when the
     * snapshot is shared, like thaw().
     */
    void set_run_id(const protocol::TraceId& id, std::string_view run_id);

   private:
    friend class TraceStore;
    explicit Transaction(TraceStore& store);
    TraceStore* store_;
    std::unique_lock<std::shared_mutex> lock_;
  };
  Transaction begin();

  // ---- readers: any thread; return snapshots (exported traces are shared, open ones copied)
  /** Seed's get(trace_id). */
  TracePtr get(const protocol::TraceId& id) const;
  /** Seed's list(run_id): every trace of the run, oldest first (from an index, no scan). */
  std::vector<TracePtr> list(std::string_view run_id) const;
  /** Seed's last(n): newest first. */
  std::vector<TracePtr> last(std::size_t n) const;
  /** Newest first, up to filter.limit; scans newest to oldest (only the run when run_id is set). */
  std::vector<TracePtr> find(const TraceFilter& filter) const;
  /**
   * The trace record append_trace_json writes (GET /api/traces/{id}), or nullptr when
   * absent. A frozen (exported) trace's record is rendered once, outside the store lock,
   * and shared until the trace changes (late span, run_id: the cache entry is dropped by
   * the writer) or leaves the store; an open trace's is rendered on every call. The bytes
   * are immutable: callers may keep and send them without copying.
   */
  std::shared_ptr<const TraceRecord> get_json(const protocol::TraceId& id) const;

  StoreCounters counters() const;
  const StoreLimits& limits() const { return limits_; }

 private:
  struct Impl;
  StoreLimits limits_;
  std::unique_ptr<Impl> impl_;
  mutable std::shared_mutex mutex_;
};

}  // namespace tracecol::store
