#pragma once
// One agent connection: a reader coroutine and a tiny writer (flushed replies), both on
// the connection's strand.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/ingest/batch_sink.hpp"
#include "daemon/ingest/ingest_counters.hpp"
#include "daemon/ingest/line_framer.hpp"
#include "daemon/ingest/peer_cred.hpp"
#include "daemon/net.hpp"
#include "protocol/decoder.hpp"

namespace tracecol::ingest {

/** What every connection shares; owned by the listener's owner, outlives connections. */
struct ConnectionContext {
  BatchSink& sink;
  IngestCounters& counters;
  protocol::DecodeOptions decode;
  std::size_t max_line_bytes = 1 << 20;
  std::size_t max_batches_in_flight = 8;        // per connection: bounds queued memory
  std::atomic<std::int64_t>& monotonic_offset_ns;  // refreshed by the daemon
  std::atomic<std::uint64_t> readers_active{0};    // connections still reading
  /** At shutdown a connection reads on until its peer is silent this long (or EOF). */
  std::chrono::milliseconds shutdown_quiet{100};
  /** Shared by every connection's unfinished long lines (--max-line-buffer-bytes); nullptr: unbounded. */
  LineBudget* line_budget = nullptr;
};

/**
 * One accepted agent socket. Reads up to 64 KiB at a time into its LineFramer, decodes each
 * line with its own Decoder and hands each read's events to the BatchSink in one batch.
 * Answers flush lines once every earlier line is applied. Every span it hands on carries
 * the peer's pid and uid (has_peer). Everything runs on the connection's strand; the object
 * lives (shared_ptr) until its last batch is applied and its last reply written. While the
 * agent is idle between lines the connection holds no read buffer (see read_loop).
 */
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  /** peer: SO_PEERCRED read at accept; nullopt leaves spans without peer metadata. */
  Connection(local_stream::socket socket, std::uint64_t id, ConnectionContext& context,
             std::optional<PeerCred> peer = std::nullopt);
  ~Connection();

  void start();
  /**
   * Shutdown, any thread: keep reading what the peer sends until EOF, until it is silent
   * for ctx.shutdown_quiet, or until deadline; then stop reading (replies still go out).
   */
  void stop_reading(std::chrono::steady_clock::time_point deadline);

 private:
  net::awaitable<void> read_loop();
  void on_bytes(std::size_t n);
  void handle_line(std::string_view line);
  void stamp_peer(protocol::Event& event) const;
  void reject(protocol::RejectReason reason, std::size_t length, std::size_t offset, std::string_view line);
  void submit_batch();
  void on_applied(std::uint64_t batch_seq, const std::vector<FlushRequest>& flushes, std::size_t data_events,
                  const std::vector<AppliedRejection>& rejected);
  void arm_quiet_timer();
  void log_close() const;
  void send(std::string line);
  void write_next();

  local_stream::socket socket_;
  net::strand<net::any_io_executor> strand_;
  net::steady_timer capacity_timer_;
  net::steady_timer quiet_timer_;     // shutdown: ends a read when the peer went silent
  std::uint64_t read_generation_ = 0;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::uint64_t id_;
  ConnectionContext& ctx_;
  LineFramer framer_;
  protocol::Decoder decoder_;
  IngestBatch batch_;
  std::uint64_t line_number_ = 0;
  std::uint64_t decoded_ = 0;        // data lines the decoder accepted
  std::uint64_t rejected_ = 0;       // lines refused by framer or decoder
  std::uint64_t applied_rejected_ = 0;  // events refused later by the assembler
  std::array<std::uint32_t, static_cast<std::size_t>(protocol::RejectReason::count_)> rejected_by_reason_{};
  std::uint64_t batch_seq_ = 0;         // batches submitted so far
  std::optional<LastError> last_decode_error_;   // framer/decoder, in line order
  std::optional<LastError> last_applied_error_;  // assembler, in line order
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  std::optional<PeerCred> peer_;
  std::size_t last_batch_events_ = 0;  // sizes the next batch's vector when bytes arrive
  std::vector<std::string> outbox_;  // flushed replies; rare and short, and empty costs nothing
  bool writing_ = false;
};

}  // namespace tracecol::ingest
