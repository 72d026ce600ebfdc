#include "client/cli/socket_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

namespace tracecol::cli {
namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

std::optional<std::uint64_t> u64_member(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return std::nullopt;
  std::uint64_t n = 0;
  const char* s = it->value.GetString();
  const char* end = s + it->value.GetStringLength();
  const auto [p, ec] = std::from_chars(s, end, n);
  if (ec != std::errc() || p != end) return std::nullopt;
  return n;
}

}  // namespace

std::optional<Flushed> parse_flushed(std::string_view line) {
  rapidjson::Document doc;
  constexpr unsigned flags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
  doc.Parse<flags>(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  auto type = doc.FindMember("type");
  if (type == doc.MemberEnd() || !type->value.IsString() || std::string_view(type->value.GetString()) != "flushed")
    return std::nullopt;
  Flushed f;
  const auto id = u64_member(doc, "id");
  const auto accepted = u64_member(doc, "accepted");
  const auto rejected = u64_member(doc, "rejected");
  if (!id || !accepted || !rejected) return std::nullopt;
  f.id = *id;
  f.accepted = *accepted;
  f.rejected = *rejected;
  auto last = doc.FindMember("last_error");
  if (last != doc.MemberEnd() && last->value.IsString())
    f.last_error.assign(last->value.GetString(), last->value.GetStringLength());
  return f;
}

SocketClient::~SocketClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool SocketClient::connect(const std::string& path) {
  path_ = path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    error_ = "cannot connect to " + path + ": socket path empty or too long";
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    error_ = std::string("socket(): ") + std::strerror(errno);
    return false;
  }
  // A non-blocking Unix-socket connect succeeds or fails at once; EAGAIN means the
  // listener's backlog is full (a busy daemon), so it is retried for a moment.
  int rc = 0;
  for (int attempt = 0; (rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr)) != 0; ++attempt) {
    if ((errno != EAGAIN && errno != EINTR) || attempt >= 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (rc != 0) {
    error_ = "cannot connect to " + path + ": " + std::strerror(errno) + " (is tracecol running? see --socket)";
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  return true;
}

bool SocketClient::write_all(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      const int left = remaining_ms(deadline);
      if (left == 0 || ::poll(&p, 1, left) == 0) {
        error_ = "timed out writing to " + path_ + " (the daemon is not reading)";
        return false;
      }
      continue;
    }
    error_ = "write to " + path_ + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::optional<Flushed> SocketClient::flush(std::uint64_t id, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  if (!write_all("{\"type\":\"flush\",\"id\":" + std::to_string(id) + "}\n", timeout)) return std::nullopt;
  char buf[4096];
  for (;;) {
    for (std::size_t nl; (nl = input_.find('\n')) != std::string::npos;) {
      const std::string line = input_.substr(0, nl);
      input_.erase(0, nl + 1);
      if (auto f = parse_flushed(line); f && f->id == id) return f;
    }
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      input_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      error_ = "the daemon closed the connection before answering the flush";
      return std::nullopt;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      error_ = "read from " + path_ + ": " + std::strerror(errno);
      return std::nullopt;
    }
    pollfd p{fd_, POLLIN, 0};
    const int left = remaining_ms(deadline);
    if (left == 0 || ::poll(&p, 1, left) == 0) {
      error_ = "timed out waiting for the daemon's flushed answer";
      return std::nullopt;
    }
  }
}

}  // namespace tracecol::cli
