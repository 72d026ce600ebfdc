#pragma once
// The HTTP exporter's own bounded queue of encoded traces, batched by count and bytes.
// Overflow drops the OLDEST records: during an outage the newest traces are the ones
// worth keeping. Not thread-safe: the exporter guards it with its mutex.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace tracecol::exporters::http {

/** One trace, already encoded (an OTLP span list or one NDJSON trace record). */
struct Record {
  std::string bytes;
  std::uint64_t spans = 0;
  std::chrono::steady_clock::time_point enqueued;
};

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
  QueueLimits limits_;
  std::deque<Record> records_;
  std::uint64_t bytes_ = 0;
  std::uint64_t spans_ = 0;
};

}  // namespace tracecol::exporters::http
