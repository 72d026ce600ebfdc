#include "tests/integration/http_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace tracecol::integration {

struct HttpReceiver::Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  std::atomic<bool> closed{false};
  void shut() {
    closed.store(true);
    ::shutdown(fd, SHUT_RDWR);
  }
};

namespace {

constexpr int io_wait_ms = 50;

constexpr long timed_out = -2;
constexpr long failed = -1;

/** One read: bytes, 0 at EOF, failed, or timed_out (SO_RCVTIMEO) so the caller can check for stop. */
long read_some(SSL* ssl, int fd, char* buf, std::size_t n) {
  if (ssl) {
    const int r = SSL_read(ssl, buf, static_cast<int>(n));
    if (r > 0) return r;
    const int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)))
      return timed_out;
    return e == SSL_ERROR_ZERO_RETURN ? 0 : failed;
  }
  const ssize_t r = ::recv(fd, buf, n, 0);
  if (r >= 0) return r;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? timed_out : failed;
}

bool write_all(SSL* ssl, int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    long w;
    if (ssl) w = SSL_write(ssl, data.data() + off, static_cast<int>(data.size() - off));
    else w = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return false;
    off += static_cast<std::size_t>(w);
  }
  return true;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

/** Parses the head (request line + headers, without the blank line). */
bool parse_head(const std::string& head, ReceivedRequest& req) {
  std::size_t line_end = head.find("\r\n");
  const std::string line = head.substr(0, line_end);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string h = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const std::size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::size_t v = colon + 1;
    while (v < h.size() && h[v] == ' ') ++v;
    req.headers[lower(h.substr(0, colon))] = h.substr(v);
  }
  return true;
}

const char* reason(unsigned status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

HttpReceiver::HttpReceiver(std::optional<TlsFiles> tls, bool keep_bodies)
    : tls_files_(std::move(tls)), keep_bodies_(keep_bodies) {
  if (tls_files_) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx, tls_files_->cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls_files_->key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_free(ctx);
      ctx = nullptr;
    }
    ssl_ctx_ = ctx;
  }
  listen_on(0);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpReceiver::~HttpReceiver() {
  stopping_.store(true);
  if (acceptor_.joinable()) acceptor_.join();
  close_all();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (ssl_ctx_) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

bool HttpReceiver::listen_on(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    return false;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  listen_fd_ = fd;
  listening_.store(true);
  return true;
}

void HttpReceiver::stop_listening() {
  std::lock_guard lock(mu_);
  // The accept loop polls with a short timeout, so closing under the lock is safe: it
  // only touches listen_fd_ while holding mu_ too.
  listening_.store(false);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  for (auto& c : connections_) c->shut();
}

bool HttpReceiver::start_listening() {
  std::lock_guard lock(mu_);
  return listening_.load() || listen_on(port_);
}

void HttpReceiver::close_all() {
  std::lock_guard lock(mu_);
  for (auto& c : connections_) c->shut();
}

void HttpReceiver::accept_loop() {
  while (!stopping_.load()) {
    int fd = -1;
    {
      std::lock_guard lock(mu_);
      fd = listening_.load() ? listen_fd_ : -1;
    }
    if (fd < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(io_wait_ms));  // a server loop, not a test wait
      continue;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, io_wait_ms) <= 0) continue;
    std::lock_guard lock(mu_);
    if (!listening_.load() || listen_fd_ != fd) continue;
    const int cfd = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) continue;
    if (read_rate_.load() > 0) {
      // The kernel doubles it and keeps a floor; a few KiB still stall the sender soon.
      const int small = 2048;
      ::setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    timeval tv{0, io_wait_ms * 1000};
    ::setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto c = std::make_shared<Connection>();
    c->fd = cfd;
    connections_.push_back(c);
    threads_.emplace_back([this, c] { serve(c); });
  }
}

void HttpReceiver::serve(const std::shared_ptr<Connection>& c) {
  auto stop = [&] { return stopping_.load() || c->closed.load(); };
  if (ssl_ctx_) {
    c->ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
    SSL_set_fd(c->ssl, c->fd);
    for (;;) {
      const int r = SSL_accept(c->ssl);
      if (r == 1) break;
      const int e = SSL_get_error(c->ssl, r);
      const bool again = e == SSL_ERROR_WANT_READ || (e == SSL_ERROR_SYSCALL && errno == EAGAIN);
      if (!again || stop()) {
        c->closed.store(true);
        break;
      }
    }
  }
  std::string buf;
  char chunk[65536];
  // At a set read rate, each read takes only what the budget since the last read allows.
  auto last_read = std::chrono::steady_clock::now();
  double budget = 0;
  auto read_next = [&]() -> long {
    const std::size_t rate = read_rate_.load();
    if (rate == 0) return read_some(c->ssl, c->fd, chunk, sizeof chunk);
    const auto now = std::chrono::steady_clock::now();
    budget = std::min(budget + std::chrono::duration<double>(now - last_read).count() * static_cast<double>(rate),
                      static_cast<double>(rate));
    last_read = now;
    if (budget < 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(io_wait_ms));  // a server's pacing, not a test wait
      return timed_out;
    }
    const long n = read_some(c->ssl, c->fd, chunk, std::min(sizeof chunk, static_cast<std::size_t>(budget)));
    if (n > 0) budget -= static_cast<double>(n);
    return n;
  };
  while (!stop()) {
    // The head, then Content-Length bytes of body.
    std::size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      const long n = read_next();
      if (n == timed_out && !stop()) continue;
      if (n <= 0) goto done;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    ReceivedRequest req;
    if (!parse_head(buf.substr(0, head_end), req)) break;
    std::size_t length = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end()) length = std::strtoull(it->second.c_str(), nullptr, 10);
    const std::size_t total = head_end + 4 + length;
    while (buf.size() < total) {
      const long n = read_next();
      if (n == timed_out && !stop()) continue;
      if (n <= 0) goto done;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    bytes_ += total;
    req.body = buf.substr(head_end + 4, length);
    req.received_at = std::chrono::steady_clock::now();
    buf.erase(0, total);
    Reply reply;
    {
      std::lock_guard lock(mu_);
      const std::size_t index = count_++;
      if (script_) reply = script_(index, req);
      req.replied = reply.never_answer ? 0 : reply.status;
      if (reply.status >= 200 && reply.status < 300 && !reply.never_answer) ++ok_count_;
      if (keep_bodies_) requests_.push_back(std::move(req));
    }
    if (reply.never_answer) {
      while (!stop()) {
        const long n = read_some(c->ssl, c->fd, chunk, sizeof chunk);
        if (n == 0 || n == failed) goto done;
      }
      break;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) +
                      "\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n";
    for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
    out += "\r\n" + reply.body;
    if (!write_all(c->ssl, c->fd, out)) break;
  }
done:
  if (c->ssl) SSL_free(c->ssl);
  c->ssl = nullptr;
  std::lock_guard lock(mu_);
  ::close(c->fd);
  c->fd = -1;
  std::erase(connections_, c);
}

void HttpReceiver::script(Script s) {
  std::lock_guard lock(mu_);
  script_ = std::move(s);
}

std::size_t HttpReceiver::request_count() const {
  std::lock_guard lock(mu_);
  return count_;
}

std::size_t HttpReceiver::ok_count() const {
  std::lock_guard lock(mu_);
  return ok_count_;
}

void HttpReceiver::read_rate(std::size_t bytes_per_second) { read_rate_.store(bytes_per_second); }

std::vector<ReceivedRequest> HttpReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

bool make_self_signed_cert(const std::string& cert_file, const std::string& key_file) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" + key_file +
                          "' -out '" + cert_file + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace tracecol::integration
