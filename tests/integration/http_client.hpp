#pragma once
// A blocking HTTP/1.1 test client (TCP or Unix socket, deadline-bounded reads) and a
// daemon with its HTTP API on a free loopback port. Shared by the HTTP integration tests.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

namespace tracecol::integration {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

/** A blocking HTTP/1.1 client over TCP or a Unix socket; every read has a deadline. Not thread-safe. */
class HttpClient {
 public:
  explicit HttpClient(int port);
  explicit HttpClient(const std::string& unix_path);
  ~HttpClient() { close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void close();
  bool send(const std::string& bytes);
  /** Sends one request (Content-Length added for bodies and POST) and reads the answer (a HEAD's has no body). */
  std::optional<HttpResponse> request(const std::string& method, const std::string& target,
                                      const std::string& body = {}, const std::string& extra_headers = {});
  /** One answer; head_only: the answer to a HEAD, whose Content-Length announces a body never sent. */
  std::optional<HttpResponse> read_response(std::chrono::milliseconds timeout = default_deadline,
                                            bool head_only = false);
  /** True when the server closes the connection before the deadline. */
  bool wait_eof(std::chrono::milliseconds timeout = default_deadline);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

/** One server-sent event: its `event:` name and its `data:` line(s) joined by '\n'. */
struct SseMessage {
  std::string event;
  std::string data;
};

/**
 * A blocking GET /api/stream reader over TCP: sends the request, reads the head, then
 * parses events as they arrive; every read has a deadline. Not thread-safe (one thread
 * may own it).
 */
class SseClient {
 public:
  /** Connects to 127.0.0.1:port; receive_buffer > 0 sets SO_RCVBUF before connecting. */
  explicit SseClient(int port, int receive_buffer = 0);
  ~SseClient();
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  /** Sends GET target; returns the status line's code (0 on failure); the head is in headers. */
  int open(const std::string& target, std::chrono::milliseconds timeout = default_deadline);
  /** The next event; comments (": ...") are collected in comments and skipped. nullopt on EOF or deadline. */
  std::optional<SseMessage> next(std::chrono::milliseconds timeout = default_deadline);
  /** Reads until the first comment arrives; false on EOF or deadline. */
  bool wait_comment(std::chrono::milliseconds timeout = default_deadline);
  /** Reads and discards until the server closes; true when it did before the deadline. */
  bool wait_eof(std::chrono::milliseconds timeout = default_deadline);
  void close();

  std::map<std::string, std::string> headers;  // lowercase names
  std::vector<std::string> comments;           // comment lines without the leading ':'

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  /** One complete block (up to a blank line) parsed from buffer_; false when none is complete. */
  bool parse_block(std::optional<SseMessage>& out);
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

/** A daemon with the HTTP API on a free loopback port, read back from its log line. */
struct HttpDaemon {
  HttpDaemon(const TempDir& dir, std::vector<std::string> args);
  static std::vector<std::string> with_http(std::vector<std::string> args);
  std::optional<HttpResponse> get(const std::string& target);
  Daemon daemon;
  int port = 0;
};

}  // namespace tracecol::integration
