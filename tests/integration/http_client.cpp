#include "tests/integration/http_client.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>

namespace tracecol::integration {

namespace {

/** One recv of what arrives before `deadline` into `buffer`; false on timeout, EOF (sets eof) or error. */
bool receive_some(int fd, std::string& buffer, bool& eof, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0 || fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[65536];
  const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) {
    eof = true;
    return false;
  }
  buffer.append(chunk, static_cast<std::size_t>(n));
  return true;
}

}  // namespace

HttpClient::HttpClient(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
}

HttpClient::HttpClient(const std::string& unix_path) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  unix_path.copy(a.sun_path, sizeof a.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
}

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool HttpClient::send(const std::string& bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<HttpResponse> HttpClient::request(const std::string& method, const std::string& target,
                                                const std::string& body, const std::string& extra_headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers;
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (!send(req + "\r\n" + body)) return std::nullopt;
  return read_response(default_deadline, method == "HEAD");
}

std::optional<HttpResponse> HttpClient::read_response(std::chrono::milliseconds timeout, bool head_only) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline)) return std::nullopt;
  }
  HttpResponse r;
  const std::string head = buffer_.substr(0, head_end);
  if (head.size() < 12) return std::nullopt;
  r.status = std::stoi(head.substr(9, 3));
  for (std::size_t at = head.find("\r\n"); at != std::string::npos && at < head.size();) {
    const std::size_t next = head.find("\r\n", at + 2);
    const std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    at = next;
  }
  const std::size_t length =
      head_only ? 0 : std::stoul(r.headers.count("content-length") ? r.headers["content-length"] : "0");
  while (buffer_.size() < head_end + 4 + length) {
    if (!fill(deadline)) return std::nullopt;
  }
  r.body = buffer_.substr(head_end + 4, length);
  buffer_.erase(0, head_end + 4 + length);
  return r;
}

bool HttpClient::wait_eof(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill(deadline)) {
  }
  return std::chrono::steady_clock::now() < deadline && eof_;
}

bool HttpClient::fill(std::chrono::steady_clock::time_point deadline) {
  return receive_some(fd_, buffer_, eof_, deadline);
}

HttpDaemon::HttpDaemon(const TempDir& dir, std::vector<std::string> args)
    : daemon(dir, dir.file("s.sock"), with_http(std::move(args))) {
  REQUIRE(daemon.wait_ready());
  const std::string marker = "http listening on 127.0.0.1:";
  REQUIRE(wait_until([&] {
    const std::string err = daemon.err();
    const std::size_t at = err.find(marker);
    if (at == std::string::npos || err.find('\n', at) == std::string::npos) return false;
    port = std::atoi(err.c_str() + at + marker.size());
    return port > 0;
  }));
}

std::vector<std::string> HttpDaemon::with_http(std::vector<std::string> args) {
  args.insert(args.begin(), {"--http-listen", "127.0.0.1:0"});  // the last --http-listen wins
  return args;
}

SseClient::SseClient(int port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
}

SseClient::~SseClient() { close(); }

void SseClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int SseClient::open(const std::string& target, std::chrono::milliseconds timeout) {
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n";
  for (std::size_t at = 0; at < req.size();) {
    const ssize_t n = ::send(fd_, req.data() + at, req.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return 0;
    at += static_cast<std::size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline)) return 0;
  }
  const std::string head = buffer_.substr(0, head_end);
  buffer_.erase(0, head_end + 4);
  if (head.size() < 12) return 0;
  for (std::size_t at = head.find("\r\n"); at != std::string::npos && at < head.size();) {
    const std::size_t next = head.find("\r\n", at + 2);
    const std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    at = next;
  }
  return std::atoi(head.c_str() + 9);
}

bool SseClient::parse_block(std::optional<SseMessage>& out) {
  const std::size_t end = buffer_.find("\n\n");
  if (end == std::string::npos) return false;
  const std::string block = buffer_.substr(0, end + 1);
  buffer_.erase(0, end + 2);
  SseMessage m;
  bool any_field = false;
  for (std::size_t at = 0; at < block.size();) {
    const std::size_t nl = block.find('\n', at);
    const std::string line = block.substr(at, nl - at);
    at = nl + 1;
    if (line.starts_with(":")) {
      comments.push_back(line.substr(line.starts_with(": ") ? 2 : 1));
    } else if (line.starts_with("event: ")) {
      m.event = line.substr(7);
      any_field = true;
    } else if (line.starts_with("data: ")) {
      if (!m.data.empty()) m.data += '\n';
      m.data += line.substr(6);
      any_field = true;
    }
  }
  if (any_field) out = std::move(m);
  return true;
}

std::optional<SseMessage> SseClient::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::optional<SseMessage> m;
    while (parse_block(m)) {
      if (m) return m;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

bool SseClient::wait_comment(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::size_t before = comments.size();
  for (;;) {
    std::optional<SseMessage> m;
    while (comments.size() == before && parse_block(m)) {
    }
    if (comments.size() > before) return true;
    if (!fill(deadline)) return false;
  }
}

bool SseClient::wait_eof(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fill(deadline)) buffer_.clear();
  return std::chrono::steady_clock::now() < deadline && eof_;
}

bool SseClient::fill(std::chrono::steady_clock::time_point deadline) {
  return receive_some(fd_, buffer_, eof_, deadline);
}

std::optional<HttpResponse> HttpDaemon::get(const std::string& target) {
  HttpClient c(port);
  return c.request("GET", target);
}

}  // namespace tracecol::integration
