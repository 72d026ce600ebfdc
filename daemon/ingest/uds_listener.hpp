#pragma once
// The agents' Unix socket: safe takeover of a stale socket file, the file mode applied
// without a window, an accept loop with a connection cap and EMFILE handling.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>
#include <vector>
#include <unordered_map>

#include "daemon/ingest/connection.hpp"
#include "daemon/ingest/peer_cred.hpp"
#include "daemon/net.hpp"

namespace tracecol::ingest {

struct ListenerOptions {
  std::string path;
  unsigned mode = 0660;
  std::size_t max_connections = 1024;
  // Peers allowed by SO_PEERCRED: a uid in allow_uids or a gid in allow_gids. Both empty:
  // the socket's mode and directory decide alone.
  std::vector<unsigned> allow_uids;
  std::vector<unsigned> allow_gids;
};

/**
 * Owns the listening socket and the accept loop (a coroutine on the listener's strand).
 * Connections are owned by themselves (shared_ptr); the listener keeps weak references to
 * ask them to stop at shutdown. open() and close() are for the startup thread; stop() may
 * be called from any thread.
 */
class UdsListener {
 public:
  UdsListener(net::io_context& io, ListenerOptions options, ConnectionContext& context);
  ~UdsListener();

  /**
   * Startup, single-threaded: checks the path (a live daemon or a non-socket file there is
   * an error; a stale socket is removed), binds and listens. Returns an error message.
   */
  std::optional<std::string> open();
  void start();
  /**
   * Any thread: on the listener's strand, accepts the connections already waiting in the
   * kernel's backlog (their agents connected and wrote before the stop: their spans are
   * drained like everyone's), stops accepting, removes the socket file, then asks every
   * live connection to read what its agent still sends until read_deadline (see
   * Connection::stop_reading). No connection is accepted after that.
   */
  void stop(std::chrono::steady_clock::time_point read_deadline);
  /** Same, synchronously; only when no io thread runs (startup failure, destruction). */
  void close();

 private:
  net::awaitable<void> accept_loop();
  /** An accepted socket: checked against the allow lists and the cap, then served. On the strand. */
  void admit(local_stream::socket socket);
  /** Accepts without waiting until the backlog is empty (shutdown). On the strand. */
  void drain_backlog();
  /** The peer's SO_PEERCRED against the allow lists (true when there are none); logs a refusal. */
  bool peer_allowed(const std::optional<PeerCred>& peer) const;
  void stop_connections(std::chrono::steady_clock::time_point read_deadline);

  net::io_context& io_;
  net::strand<net::io_context::executor_type> strand_;
  ListenerOptions options_;
  ConnectionContext& ctx_;
  local_stream::acceptor acceptor_;
  net::steady_timer backoff_;
  std::uint64_t next_id_ = 1;
  // Set by stop() on the strand: a connection admitted after it is asked to stop at once.
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections_;
};

/** What is at a socket path: nothing, a live listener, a stale socket or another file. */
enum class PathState { absent, live_socket, stale_socket, not_a_socket };
PathState probe_socket_path(const std::string& path);

/**
 * Makes path ready for bind(): refuses a live listener (another daemon's, or our own other
 * socket) and any file that is not a socket, removes a stale socket, creates missing
 * directories 0750. The reason (naming flag) when it refuses.
 */
std::optional<std::string> claim_socket_path(const std::string& path, std::string_view flag);

}  // namespace tracecol::ingest
