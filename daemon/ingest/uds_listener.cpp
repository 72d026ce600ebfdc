#include "daemon/ingest/uds_listener.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <filesystem>

#include "daemon/ingest/fd_limit.hpp"
#include "daemon/log.hpp"

namespace tracecol::ingest {

using daemon::LogLevel;

namespace {
// Out of file descriptors, every accept fails: one log line a second says so.
daemon::RateLimiter accept_error_log(1);
// A peer the allow lists refuse: one log line a second at most.
daemon::RateLimiter denied_log(1);
// A connection past --max-connections: one log line a second at most.
daemon::RateLimiter over_cap_log(1);
}  // namespace

PathState probe_socket_path(const std::string& path) {
  struct stat st{};
  if (lstat(path.c_str(), &st) != 0) return PathState::absent;
  if (!S_ISSOCK(st.st_mode)) return PathState::not_a_socket;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return PathState::live_socket;  // cannot tell: never delete what might be live
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc == 0) return PathState::live_socket;
  // Only "nobody listens" makes a socket stale; EAGAIN (full backlog) means a busy daemon.
  return err == ECONNREFUSED ? PathState::stale_socket : PathState::live_socket;
}

std::optional<std::string> claim_socket_path(const std::string& path, std::string_view flag) {
  switch (probe_socket_path(path)) {
    case PathState::live_socket:
      return "another process (a running tracecol?) is listening on " + path + "; stop it or choose another " +
             std::string(flag);
    case PathState::not_a_socket:
      return path + " exists and is not a socket; refusing to replace it (remove it or choose another " +
             std::string(flag) + ")";
    case PathState::stale_socket:
      daemon::log(LogLevel::info, "removing stale socket %s (nothing listens on it)", path.c_str());
      if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return "cannot remove stale socket " + path + ": " + std::strerror(errno);
      break;
    case PathState::absent:
      break;
  }
  // Missing directories are created 0750 (like mkdir -p): clients need a group to reach in.
  std::filesystem::path dir;
  for (const auto& part : std::filesystem::path(path).parent_path()) {
    dir /= part;
    struct stat st{};
    if (::stat(dir.c_str(), &st) == 0) continue;
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
      return "cannot create socket directory " + dir.string() + ": " + std::strerror(errno);
  }
  return std::nullopt;
}

UdsListener::UdsListener(net::io_context& io, ListenerOptions options, ConnectionContext& context)
    : io_(io), strand_(net::make_strand(io)), options_(std::move(options)), ctx_(context), acceptor_(strand_),
      backoff_(strand_) {}

UdsListener::~UdsListener() { close(); }

std::optional<std::string> UdsListener::open() {
  const std::string& path = options_.path;
  // Each agent holds a descriptor; some go to files, HTTP and exporters besides.
  const std::uint64_t fd_limit = raise_fd_limit();
  if (fd_limit < options_.max_connections + 64) {
    daemon::log(LogLevel::warn, "--max-connections %zu is above what the open-file limit (%" PRIu64 ") allows; "
                "accepts will fail with EMFILE first (counted as accept errors, retried every 100ms)",
                options_.max_connections, fd_limit);
  }
  if (auto refused = claim_socket_path(path, "--socket")) return refused;
  boost::system::error_code ec;
  acceptor_.open(local_stream(), ec);
  if (ec) return "cannot create socket: " + ec.message();
  // The umask makes bind() create the file with the final mode: no window where it is wider.
  const mode_t old_umask = ::umask(static_cast<mode_t>(~options_.mode & 0777));
  acceptor_.bind(local_stream::endpoint(path), ec);
  ::umask(old_umask);
  if (ec) return "cannot bind " + path + ": " + ec.message();
  ::chmod(path.c_str(), options_.mode);
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen on " + path + ": " + ec.message();
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  return std::nullopt;
}

void UdsListener::start() { net::co_spawn(strand_, accept_loop(), net::detached); }

void UdsListener::stop(std::chrono::steady_clock::time_point read_deadline) {
  net::post(strand_, [this, read_deadline] {
    stopping_ = true;
    stop_deadline_ = read_deadline;
    drain_backlog();
    close();
    backoff_.cancel();
    // On the accept strand, after close: every connection ever accepted is in the map.
    stop_connections(read_deadline);
  });
}

bool UdsListener::peer_allowed(const std::optional<PeerCred>& peer) const {
  if (options_.allow_uids.empty() && options_.allow_gids.empty()) return true;
  if (!peer) return false;
  const auto listed = [](const std::vector<unsigned>& ids, unsigned id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  if (listed(options_.allow_uids, peer->uid) || listed(options_.allow_gids, peer->gid)) return true;
  std::uint64_t suppressed = 0;
  if (denied_log.allow(&suppressed)) {
    daemon::log(LogLevel::warn, "refused a connection on %s from pid %d uid %u gid %u: not in --allow-uid / "
                "--allow-gid (%" PRIu64 " more refusals not logged)", options_.path.c_str(), static_cast<int>(peer->pid),
                static_cast<unsigned>(peer->uid), static_cast<unsigned>(peer->gid), suppressed);
  }
  return false;
}

net::awaitable<void> UdsListener::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
    // A socket accepted just before stop() closed the acceptor is served all the same.
    if (!ec) admit(std::move(socket));
    if (!acceptor_.is_open() || ec == net::error::operation_aborted) co_return;
    if (!ec) continue;
    ctx_.counters.accept_errors.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t suppressed = 0;
    if (accept_error_log.allow(&suppressed)) {
      daemon::log(LogLevel::warn, "accept on %s failed: %s; pausing accepts for 100ms (%" PRIu64
                  " more accept errors not logged)", options_.path.c_str(), ec.message().c_str(), suppressed);
    }
    // EMFILE/ENFILE leave the connection in the backlog: pause instead of spinning on it.
    backoff_.expires_after(std::chrono::milliseconds(100));
    co_await backoff_.async_wait(net::as_tuple(net::use_awaitable));
  }
}

void UdsListener::drain_backlog() {
  if (!acceptor_.is_open()) return;
  boost::system::error_code ec;
  acceptor_.non_blocking(true, ec);
  while (!ec) {
    local_stream::socket socket(strand_);
    acceptor_.accept(socket, ec);  // would_block once the backlog is empty
    if (!ec) admit(std::move(socket));
  }
}

void UdsListener::admit(local_stream::socket socket) {
  // One getsockopt per connection: it both gates the peer and names it on every span.
  const std::optional<PeerCred> peer = read_peer_cred(socket.native_handle());
  if (!peer_allowed(peer)) {
    ctx_.counters.connections_denied.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  if (ctx_.counters.connections_active.load(std::memory_order_relaxed) >= options_.max_connections) {
    ctx_.counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t suppressed = 0;
    if (over_cap_log.allow(&suppressed))
      daemon::log(LogLevel::warn,
                  "refused a connection on %s from pid %d uid %u: %zu agents connected already (--max-connections); "
                  "counted in tracecol_connections_refused_total (%llu similar messages suppressed)",
                  options_.path.c_str(), peer ? static_cast<int>(peer->pid) : -1, peer ? peer->uid : 0u,
                  options_.max_connections, static_cast<unsigned long long>(suppressed));
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  ctx_.counters.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t id = next_id_++;
  auto connection = std::make_shared<Connection>(std::move(socket), id, ctx_, peer);
  {
    std::lock_guard lock(mutex_);
    // Sweep entries of closed connections once they outnumber the live ones (amortised
    // O(1) per accept). A stale weak_ptr pins its make_shared block, so the bound is on
    // the live count, not on --max-connections (10k-connection caps would pin ~20k blocks).
    if (connections_.size() > 64 + 2 * ctx_.counters.connections_active.load(std::memory_order_relaxed)) {
      std::erase_if(connections_, [](const auto& kv) { return kv.second.expired(); });
    }
    connections_.emplace(id, connection);
  }
  connection->start();
  if (stopping_) connection->stop_reading(stop_deadline_);
}

void UdsListener::stop_connections(std::chrono::steady_clock::time_point read_deadline) {
  std::lock_guard lock(mutex_);
  for (auto& [id, weak] : connections_) {
    if (auto c = weak.lock()) c->stop_reading(read_deadline);
  }
}

void UdsListener::close() {
  if (!acceptor_.is_open()) return;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  // Remove the file only if it is still ours: another daemon may have taken the path over.
  struct stat st{};
  if (::stat(options_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(options_.path.c_str());
  }
}

}  // namespace tracecol::ingest
