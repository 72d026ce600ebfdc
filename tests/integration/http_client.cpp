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
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers;
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (!send(req + "\r\n" + body)) return std::nullopt;
  return read_response();
}

std::optional<HttpResponse> HttpClient::read_response(std::chrono::milliseconds timeout) {
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
  const std::size_t length = std::stoul(r.headers.count("content-length") ? r.headers["content-length"] : "0");
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
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0 || fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[65536];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
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

std::optional<HttpResponse> HttpDaemon::get(const std::string& target) {
  HttpClient c(port);
  return c.request("GET", target);
}

}  // namespace tracecol::integration
