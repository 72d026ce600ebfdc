#pragma once
// A keep-alive HTTP/1.1 client for one URL (http or https), Boost.Beast over a private
// io_context run on the calling thread: post() looks synchronous to the exporter's
// sender thread, while every step has the request timeout and abort() can cut it short.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/span_body.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "daemon/export/http/partial_success.hpp"
#include "daemon/export/http/retry_policy.hpp"
#include "daemon/export/http/url.hpp"

namespace tracecol::exporters::http {

/** The body is a view: the exporter encodes into a buffer it keeps and reuses across requests. */
using Request = boost::beast::http::request<boost::beast::http::span_body<const char>>;

struct ClientOptions {
  Url url;
  std::chrono::milliseconds timeout{10000};  // one whole attempt: connect, TLS, write, read
  bool insecure = false;                      // https without certificate checks
  std::string ca_file;                        // extra trusted CA certificates (PEM), besides the system store
};

/** The answer to one attempt. */
struct Attempt {
  Outcome outcome = Outcome::connection_error;
  unsigned status = 0;       // the HTTP status when there was an answer
  std::string retry_after;   // the Retry-After header, if any
  std::string detail;        // for logs: the error, or the start of the answer's body
  std::optional<PartialSuccess> partial;  // a 2xx whose body says it rejected some spans
};

/**
 * Owns one connection at a time and reuses it while the server keeps it alive.
 * post() and the destructor: one thread (the exporter's sender). abort(): any thread.
 */
class HttpClient {
 public:
  /** nullptr and *error when the TLS setup fails (unreadable CA file). */
  static std::unique_ptr<HttpClient> create(ClientOptions options, std::string* error);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /**
   * Sends req (Host is set here) and reads the answer. A failure on a reused connection
   * before any answer (the server closed it while idle) is retried once at once on a
   * fresh connection; everything else is the caller's retry policy.
   */
  Attempt post(Request& req);

  /** Makes the current or next post() fail soon with connection_error. Any thread. */
  void abort();

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tracecol::exporters::http
