#pragma once
// The HTTP exporter's own bounded queue of finished traces, batched by count and bytes.
// It holds the frozen traces themselves (shared with the store), not their encoding: the
// sender encodes a batch just before writing it, into one reused buffer. Overflow drops
// the OLDEST records: during an outage the newest traces are the ones worth keeping.
// Not thread-safe: the exporter guards it with its mutex.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "protocol/span.hpp"

namespace tracecol::exporters::http {

/** One queued trace and its size as the queue counts it. */
struct Record {
  std::shared_ptr<const protocol::Trace> trace;
  std::uint64_t bytes = 0;  // the estimated encoded size (encoded_size_estimate)
  std::uint64_t spans = 0;
  std::chrono::steady_clock::time_point enqueued;
};

/**
 * A trace's encoded size (OTLP or NDJSON) as the queue and the batching count it, from
 * the string sizes alone (no scan): above the real size unless the strings escape heavily
 * (the sender then cuts the batch by the real size), and never below the trace's
 * footprint in memory, so the queue's byte bound also bounds what queued traces keep
 * alive after the store has evicted them.
 */
std::uint64_t encoded_size_estimate(const protocol::Trace& trace);

struct QueueLimits {
  std::size_t max_traces = 10000;
  std::uint64_t max_bytes = 64ull << 20;
};

class RecordQueue {
 public:
  explicit RecordQueue(QueueLimits limits) : limits_(limits) {}

  /** Appends; then drops from the front until both limits hold. The dropped ones, counted. */
  struct Dropped { std::uint64_t traces = 0; std::uint64_t spans = 0; };
  Dropped push(Record record);

  /**
   * Takes from the front: at least one record (even one larger than max_bytes), then
   * more while the batch stays within max_traces and max_bytes.
   */
  std::vector<Record> take(std::size_t max_traces, std::uint64_t max_bytes);

  /**
   * Returns records taken earlier (in their order) to the front, then drops from the front
   * until both limits hold, as push does.
   */
  Dropped put_back(std::vector<Record> records);

  /** True when a full batch is waiting (either limit reached). */
  bool batch_ready(std::size_t max_traces, std::uint64_t max_bytes) const {
    return records_.size() >= max_traces || bytes_ >= max_bytes;
  }
  bool empty() const { return records_.empty(); }
  std::size_t size() const { return records_.size(); }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t spans() const { return spans_; }
  std::chrono::steady_clock::time_point oldest() const { return records_.front().enqueued; }
  /** Empties the queue; what was in it. */
  Dropped clear();

 private:
  /** Drops from the front until both limits hold. */
  Dropped trim();

  QueueLimits limits_;
  std::deque<Record> records_;
  std::uint64_t bytes_ = 0;
  std::uint64_t spans_ = 0;
};

}  // namespace tracecol::exporters::http
