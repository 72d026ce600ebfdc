#pragma once
// The HTTP exporter: finished traces POSTed in batches to one URL as OTLP/HTTP JSON or
// our NDJSON trace records, with retry, backoff and a bounded queue of its own.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/export/exporter.hpp"
#include "daemon/export/http/http_client.hpp"
#include "daemon/export/http/http_exporter_options.hpp"
#include "protocol/byte_buffer.hpp"

namespace tracecol::exporters::http {

/** What became of the traces handed to export_trace. Plain values (a snapshot). */
struct HttpExporterStats {
  std::uint64_t traces_queued = 0;        // export_trace calls
  std::uint64_t traces_sent = 0;          // in a request answered 2xx
  std::uint64_t spans_sent = 0;
  std::uint64_t traces_failed = 0;        // in a request answered with a non-retryable status
  std::uint64_t spans_failed = 0;
  std::uint64_t traces_dropped_queue = 0; // pushed out of the full queue (oldest first)
  std::uint64_t traces_dropped_gave_up = 0;  // still failing after max_elapsed
  std::uint64_t traces_dropped_shutdown = 0; // still queued or in flight at destruction
  std::uint64_t spans_dropped = 0;        // inside the traces of all three drop reasons above
  std::uint64_t traces_pending = 0;       // queued now or in flight
  std::uint64_t spans_pending = 0;
  std::uint64_t requests = 0;             // attempts made
  std::uint64_t requests_failed = 0;      // attempts that did not get a 2xx
  std::uint64_t traces_retried = 0;       // traces in attempts that repeated an earlier one
  std::uint64_t spans_rejected_by_receiver = 0;  // of spans_sent: a 2xx answer's partialSuccess.rejectedSpans
  LatencyHistogram latency;               // per sent or failed trace: queued to answered
};

/**
 * export_shared() queues the frozen trace (shared with the store, nothing copied or
 * encoded), never blocking on the network: it returns ok as soon as the trace is queued,
 * so the fan-out's "sent" for this exporter means "handed to its queue"; what happened
 * next is in stats() (and in the log line the destructor writes). A sender thread of its
 * own batches, encodes each batch into one reused buffer just before writing it, POSTs,
 * retries. Encoding at send time keeps the queue to pointers: encoded records held in
 * the queue cost a page fault per 4 KiB first touched and were cold by the time they
 * were written.
 *
 * Threads: export_shared from any thread (the fan-out calls it on the publishing thread:
 * hands_off_on_publish); export_trace / flush / name from the fan-out worker; retried() and
 * stats() from any thread; construction and destruction from the daemon's main thread.
 */
class HttpExporter final : public Exporter {
 public:
  /** nullptr and *error on a bad URL or TLS setup; starts the sender thread otherwise. */
  static std::unique_ptr<HttpExporter> create(HttpExporterOptions options, std::string* error);
  /** shutdown(), if it has not run yet. */
  ~HttpExporter() override;

  std::string_view name() const override { return name_; }
  void rename(std::string name) override { name_ = std::move(name); }
  ExportStatus export_shared(const TracePtr& trace) override;
  bool hands_off_on_publish() const override { return true; }
  /** A copy of trace, queued as export_shared does (for callers that hold no TracePtr). */
  ExportStatus export_trace(const protocol::Trace& trace) override;
  /** Sends what is queued at once, waiting until it is sent or given up, at most drain_timeout. */
  void flush() override;
  std::uint64_t retried() const override { return retried_.load(std::memory_order_relaxed); }
  /** Deliveries, failures, drops and pending traces from stats(): export_trace only queues. */
  std::optional<Handoff> handoff() const override;
  /**
   * Stops the sender (cutting an attempt in flight short: connection closed, no answer
   * read); what is left counts as dropped_shutdown. Logs the final counters once.
   * Main thread, after the fan-out worker stopped calling export_trace / flush.
   */
  void shutdown() override;

  HttpExporterStats stats() const;

 private:
  HttpExporter(HttpExporterOptions options, std::unique_ptr<HttpClient> client, Url url);
  void run();
  /** Sends one batch until it is accepted, rejected, given up or the exporter stops. */
  void send_batch(const std::vector<Record>& batch, Request& req);
  /** A request and how many records of its batch (the first ones) its body holds. */
  struct BuiltRequest {
    Request req;
    std::size_t records = 0;
  };
  /**
   * The request for the first records of batch: as many as fit in max_batch_bytes once
   * encoded (at least one), encoded into body_text_ or body_bytes_, which it views.
   */
  BuiltRequest build_request(const std::vector<Record>& batch);
  /** Empties a body buffer for the next request, keeping a capacity of about body_reserve_. */
  template <typename Body>
  void fresh_body(Body& body) const;
  bool wait_backoff(std::chrono::milliseconds delay);

  HttpExporterOptions options_;
  std::unique_ptr<HttpClient> client_;
  Url url_;
  std::string name_;
  std::string content_type_;
  // Sender thread only: the current request's body (native JSON / both OTLP encodings), its
  // capacity kept for the next one. The request holds a view of it until send_batch returns.
  std::string body_text_;
  protocol::ByteBuffer body_bytes_;
  std::size_t body_reserve_ = 0;  // --export-http-max-batch-bytes, up to 64 MiB
  std::mt19937_64 rng_;        // sender thread only
  bool failing_ = false;       // sender thread only: the last attempt failed (logged once per episode)

  mutable std::mutex mu_;
  std::condition_variable wake_;   // the sender waits for work, flushes and stop
  std::condition_variable idle_;   // flush() waits for an empty queue and no batch in flight
  RecordQueue queue_;
  bool in_flight_ = false;
  std::uint64_t in_flight_traces_ = 0;
  std::uint64_t in_flight_spans_ = 0;
  bool shut_down_ = false;  // main thread only
  bool flushing_ = false;
  bool stop_ = false;
  HttpExporterStats stats_;
  std::atomic<std::uint64_t> retried_{0};
  std::thread sender_;
};

}  // namespace tracecol::exporters::http
