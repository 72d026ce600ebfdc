#pragma once
// One agent connection: a reader coroutine and a tiny writer (flushed replies), both on
// the connection's strand.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "daemon/ingest/batch_sink.hpp"
#include "daemon/ingest/ingest_counters.hpp"
#include "daemon/ingest/line_framer.hpp"
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
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(local_stream::socket socket, std::uint64_t id, ConnectionContext& context);
  ~Connection();

  void start();
  /** Shutdown: read what the peer already sent, then stop reading. Any thread. */
  void stop_reading();

 private:
  net::awaitable<void> read_loop();
  void on_bytes(std::size_t n);
  void handle_line(std::string_view line);
  void reject(protocol::RejectReason reason, std::size_t length, std::size_t offset, std::string_view line);
  void submit_batch();
  void on_applied(const std::vector<FlushRequest>& flushes, std::size_t data_events,
                  const std::vector<AppliedRejection>& rejected);
  void drain_without_blocking();
  void send(std::string line);
  void write_next();

  local_stream::socket socket_;
  net::strand<net::any_io_executor> strand_;
  net::steady_timer capacity_timer_;
  std::uint64_t id_;
  ConnectionContext& ctx_;
  LineFramer framer_;
  protocol::Decoder decoder_;
  IngestBatch batch_;
  std::uint64_t line_number_ = 0;
  std::uint64_t decoded_ = 0;        // data lines the decoder accepted
  std::uint64_t rejected_ = 0;       // lines refused by framer or decoder
  std::uint64_t applied_rejected_ = 0;  // events refused later by the assembler
  std::optional<protocol::RejectReason> last_error_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  std::deque<std::string> outbox_;
  bool writing_ = false;
};

}  // namespace tracecol::ingest
