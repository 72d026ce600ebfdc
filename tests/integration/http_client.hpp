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
  /** Sends one request (Content-Length added for bodies and POST) and reads the answer. */
  std::optional<HttpResponse> request(const std::string& method, const std::string& target,
                                      const std::string& body = {}, const std::string& extra_headers = {});
  std::optional<HttpResponse> read_response(std::chrono::milliseconds timeout = default_deadline);
  /** True when the server closes the connection before the deadline. */
  bool wait_eof(std::chrono::milliseconds timeout = default_deadline);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
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
