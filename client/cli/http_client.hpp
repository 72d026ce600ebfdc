#pragma once
// tracectl's HTTP client: Boost.Beast over TCP or a Unix socket, one request per
// connection, every wait bounded by a timeout.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tracecol::cli {

/** Where the daemon's HTTP API listens: "HOST:PORT", "[v6]:PORT", "PORT" or "unix:/path". */
struct HttpEndpoint {
  bool is_unix = false;
  std::string host;  // TCP host (brackets removed)
  std::string port;  // TCP port
  std::string path;  // Unix socket path
  std::string text;  // as given, for messages
  std::string token;  // sent as "Authorization: Bearer <token>" when not empty
};

/** Parses an --http value; nullopt (with error set) when malformed. */
std::optional<HttpEndpoint> parse_http_endpoint(std::string_view text, std::string& error);

/**
 * parse_http_endpoint, then the bearer token from `token_file` when one is named: the
 * file's content without surrounding whitespace, as the daemon reads its --http-token-file.
 */
std::optional<HttpEndpoint> http_endpoint_with_token(std::string_view text, const std::string& token_file,
                                                     std::string& error);

struct HttpResult {
  bool ok = false;          // a whole response arrived (any status)
  unsigned status = 0;
  std::string content_type;
  std::string body;
  std::string error;        // why !ok: "cannot connect to ...", "timed out ...", ...
};

/** GET target, waiting at most timeout in all. Blocking; thread-compatible (own io_context). */
HttpResult http_get(const HttpEndpoint& endpoint, const std::string& target, std::chrono::milliseconds timeout);

/** How one streaming GET ended. */
struct StreamEnd {
  bool connected = false;   // the response header arrived with status 200
  unsigned status = 0;      // the status when the header arrived
  std::string body;         // the body of a non-200 answer
  std::string reason;       // why it ended, for messages
};

struct StreamOptions {
  std::chrono::milliseconds connect_timeout{10000};  // connect + request + response header
  std::chrono::milliseconds idle_timeout{45000};     // silence (no byte, not even a keepalive)
};

/**
 * Streams the 200 body of GET target into on_data, chunk by chunk as it arrives, until
 * the server closes, the idle timeout passes or on_data returns false. Runs on the
 * caller's io_context (cancel it by stopping that context).
 */
boost::asio::awaitable<StreamEnd> http_stream(const HttpEndpoint& endpoint, std::string target,
                                              StreamOptions options,
                                              std::function<bool(std::string_view)> on_data);

/** The API's {"error": "..."} message from an error body, else the body's start; printable. */
std::string api_error_message(std::string_view body);

/** Percent-encodes s for a query component (RFC 3986 unreserved characters stay). */
std::string url_encode(std::string_view s);

}  // namespace tracecol::cli
