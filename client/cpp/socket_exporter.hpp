#pragma once
// The socket exporter: span lines over the daemon's Unix socket, from one background writer.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "client/cpp/config.hpp"
#include "client/cpp/exporter.hpp"
#include "client/cpp/json.hpp"

namespace tracecol::client {

/** Counters of a SocketExporter; a snapshot. */
struct SocketExporterStats {
  std::uint64_t enqueued_lines = 0;   // span and trace_end lines accepted into the buffer
  std::uint64_t dropped_lines = 0;    // refused because the buffer was full (or lost at shutdown)
  std::uint64_t written_lines = 0;    // handed to the kernel
  std::uint64_t connects = 0;         // successful connects (1 + reconnects)
  std::uint64_t connection_losses = 0;
  std::uint64_t daemon_accepted = 0;  // from `flushed`, summed over connections
  std::uint64_t daemon_rejected = 0;
  std::string daemon_last_error;      // last non-null last_error seen in a `flushed`
  std::size_t buffered_bytes = 0;     // queued now (pending + in flight)
};

/**
 * Agent threads append encoded lines to one pending buffer under a mutex held only for
 * the append (no allocation while holding it); one writer thread swaps the buffer out and
 * sends it in large writes with MSG_NOSIGNAL, reconnects with backoff when the daemon is
 * away, and answers flush() with the protocol's flush/flushed. export_span and end_trace
 * never block on I/O and never throw; when the buffer is full the line is dropped and
 * counted. Thread-safe. Destruction waits up to config.shutdown_timeout for the daemon to
 * confirm what was queued, then stops the writer.
 */
class SocketExporter final : public SpanExporter {
 public:
  explicit SocketExporter(TracingConfig config = {});
  ~SocketExporter() override;
  SocketExporter(const SocketExporter&) = delete;
  SocketExporter& operator=(const SocketExporter&) = delete;

  void export_span(const SpanRecord& span) noexcept override;
  void end_trace(const TraceId& trace_id, const std::string& run_id) noexcept override;
  /** Sends everything queued before this call, then a flush line; true once the daemon answers `flushed`. */
  bool flush(std::chrono::milliseconds timeout) noexcept override;

  /** Queues one already-encoded protocol line ('\n'-terminated); false when dropped. */
  bool enqueue_line(std::string_view line) noexcept;

  SocketExporterStats stats() const;
  const std::string& socket_path() const { return config_.socket_path; }

 private:
  void run() noexcept;
  bool connect_once() noexcept;
  void disconnect() noexcept;
  bool write_all(const std::string& bytes, std::size_t& written) noexcept;
  void read_replies() noexcept;
  void handle_reply(std::string_view line) noexcept;
  void wake() noexcept;

  TracingConfig config_;
  int wake_fd_ = -1;  // eventfd: wakes the writer's poll()
  int fd_ = -1;       // the socket; writer thread only

  mutable std::mutex mu_;
  std::string pending_;              // guarded by mu_
  std::size_t pending_lines_ = 0;    // guarded by mu_
  std::size_t inflight_bytes_ = 0;   // guarded by mu_: the writer's batch not yet written
  std::uint64_t flush_requested_ = 0;  // guarded by mu_
  std::uint64_t flush_confirmed_ = 0;  // guarded by mu_
  bool stop_ = false;                  // guarded by mu_
  bool wake_sent_ = false;             // guarded by mu_: one wake per batch
  std::condition_variable flushed_cv_;
  std::atomic<bool> writer_idle_{false};

  // Writer thread only.
  std::string batch_;
  std::string retry_;     // unsent tail of a batch whose connection broke
  std::string read_buf_;
  std::uint64_t flush_sent_ = 0;  // highest flush id written on the current connection
  std::uint64_t conn_accepted_ = 0, conn_rejected_ = 0;  // guarded by mu_

  // Counters, guarded by mu_ (already held where they change, so no extra atomics).
  std::uint64_t enqueued_ = 0, dropped_ = 0, written_ = 0, connects_ = 0, losses_ = 0;
  std::uint64_t closed_accepted_ = 0, closed_rejected_ = 0;
  std::string last_error_;
  std::atomic<bool> connect_failed_{false};  // the last connect attempt failed
  std::atomic<bool> abort_{false};

  std::thread writer_;
};

}  // namespace tracecol::client
