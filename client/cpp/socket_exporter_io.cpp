// SocketExporter's connection: connect with hello, non-blocking writes, flushed replies.
// Writer thread only (except the counters, under mu_).

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "client/cpp/socket_exporter.hpp"

namespace tracecol::client {

namespace {

std::uint64_t number_after(std::string_view line, std::string_view key) {
  const std::size_t at = line.find(key);
  if (at == std::string_view::npos) return 0;
  std::uint64_t v = 0;
  const char* p = line.data() + at + key.size();
  std::from_chars(p, line.data() + line.size(), v);
  return v;
}

}  // namespace

bool SocketExporter::connect_once() noexcept {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (config_.socket_path.size() >= sizeof addr.sun_path) {
    connect_failed_.store(true, std::memory_order_release);
    return false;
  }
  std::memcpy(addr.sun_path, config_.socket_path.data(), config_.socket_path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    connect_failed_.store(true, std::memory_order_release);
    return false;
  }
  fd_ = fd;
  read_buf_.clear();
  std::string hello = R"({"type":"hello","version":1,"client":"tracecol-cpp/0.1")";
  if (!config_.service_name.empty()) {
    hello += R"(,"service":)";
    append_json_string(hello, config_.service_name);
  }
  hello += "}\n";
  std::size_t written = 0;
  if (!write_all(hello, written)) {
    disconnect();
    return false;
  }
  std::lock_guard lk(mu_);
  ++connects_;
  // Flushes not confirmed on the old connection are asked again on this one.
  flush_sent_ = flush_confirmed_;
  connect_failed_.store(false, std::memory_order_release);
  return true;
}

void SocketExporter::disconnect() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  std::lock_guard lk(mu_);
  ++losses_;
  closed_accepted_ += conn_accepted_;
  closed_rejected_ += conn_rejected_;
  conn_accepted_ = conn_rejected_ = 0;
}

bool SocketExporter::write_all(const std::string& bytes, std::size_t& written) noexcept {
  while (written < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (abort_.load(std::memory_order_acquire)) return false;
      pollfd p{fd_, POLLOUT | POLLIN, 0};
      if (::poll(&p, 1, 100) > 0 && (p.revents & POLLIN) != 0) {
        read_replies();
        if (fd_ < 0) return false;
      }
      continue;
    }
    return false;
  }
  return true;
}

void SocketExporter::read_replies() noexcept {
  char buf[4096];
  while (fd_ >= 0) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      read_buf_.append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0, nl;
      while ((nl = read_buf_.find('\n', start)) != std::string::npos) {
        handle_reply(std::string_view(read_buf_).substr(start, nl - start));
        start = nl + 1;
      }
      read_buf_.erase(0, start);
      if (read_buf_.size() > 65536) read_buf_.clear();  // the daemon writes short lines only
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    disconnect();  // EOF or error: the daemon went away
  }
}

void SocketExporter::handle_reply(std::string_view line) noexcept {
  if (line.find(R"("type":"flushed")") == std::string_view::npos) return;
  const std::uint64_t id = number_after(line, R"("id":)");
  std::lock_guard lk(mu_);
  conn_accepted_ = number_after(line, R"("accepted":)");
  conn_rejected_ = number_after(line, R"("rejected":)");
  const std::size_t at = line.find(R"("last_error":")");
  if (at != std::string_view::npos) {
    const std::size_t from = at + 14;
    const std::size_t to = line.find('"', from);
    if (to != std::string_view::npos) last_error_.assign(line.substr(from, to - from));
  }
  if (id > flush_confirmed_) flush_confirmed_ = id;
  flushed_cv_.notify_all();
}

}  // namespace tracecol::client
