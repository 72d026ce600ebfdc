#pragma once
// A scriptable HTTP/1.1 receiver for exporter tests: 127.0.0.1 on a free port, plain or
// TLS (OpenSSL, a PEM cert + key), keep-alive, one thread per connection. Each request
// is recorded and answered by a script; it can stop listening (connects are refused)
// and start again on the same port, read at a crawl (bytes per second) or hold requests
// unanswered. Not a general server: Content-Length bodies only.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace tracecol::integration {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::chrono::steady_clock::time_point received_at;  // when the whole request was read
  unsigned replied = 0;  // the status the script answered with; 0 when it never answered
};

/** The answer to one request. */
struct Reply {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool never_answer = false;  // read the request, then hold the connection silently
};

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
};

/**
 * Thread-safe: every method may be called from the test thread while connection
 * threads serve. The destructor stops everything and joins.
 */
class HttpReceiver {
 public:
  using Script = std::function<Reply(std::size_t index, const ReceivedRequest& request)>;

  /** Listens at once; port() says where. keep_bodies=false records only the count (benches). */
  explicit HttpReceiver(std::optional<TlsFiles> tls = std::nullopt, bool keep_bodies = true);
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  /** Replaces the script; index counts every request since construction, from 0. Default: 200. */
  void script(Script s);
  std::size_t request_count() const;
  std::vector<ReceivedRequest> requests() const;
  std::uint64_t bytes_received() const { return bytes_.load(); }
  /** Requests whose script answer was 2xx (what the sender may count as delivered). */
  std::size_t ok_count() const;

  /**
   * Reads every connection at most bytes_per_second (0: as fast as it can), with a small
   * receive buffer on connections accepted from now on, so a sender's writes stall
   * instead of filling kernel buffers. Takes effect at the next read.
   */
  void read_rate(std::size_t bytes_per_second);

  /** Closes the listening socket and every connection: connects are refused from now on. */
  void stop_listening();
  /** Listens again on the same port; false if the port cannot be bound. */
  bool start_listening();

 private:
  struct Connection;
  bool listen_on(int port);
  void accept_loop();
  void serve(const std::shared_ptr<Connection>& c);
  void close_all();

  std::optional<TlsFiles> tls_files_;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*, kept opaque so tests need no OpenSSL headers
  bool keep_bodies_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> listening_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<std::size_t> read_rate_{0};
  mutable std::mutex mu_;
  Script script_;
  std::size_t count_ = 0;
  std::size_t ok_count_ = 0;
  std::vector<ReceivedRequest> requests_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

/** Writes a self-signed cert for localhost / 127.0.0.1 with the openssl CLI; false on failure. */
bool make_self_signed_cert(const std::string& cert_file, const std::string& key_file);

}  // namespace tracecol::integration
