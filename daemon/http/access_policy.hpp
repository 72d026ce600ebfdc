#pragma once
// Who may use the HTTP API (docs/security.md, "HTTP"): the Host allowlist against DNS
// rebinding, Sec-Fetch-Site, CORS and the bearer token. Pure and stateless after
// construction: a request head in, a verdict out. The server applies it once the head is
// read and before any body is, so a refused client never makes the daemon buffer a body.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/http/access_refusal.hpp"
#include "daemon/http/api.hpp"
#include "daemon/http/router.hpp"

namespace tracecol::http {

struct AccessOptions {
  std::string token;                       // empty: no authentication (never logged)
  std::vector<std::string> allowed_hosts;  // --http-allowed-host names, any port (loopback ones always pass)
  std::vector<std::string> cors_origins;   // --http-cors-origin, normalised by normalize_origin()
  bool check_host = true;                  // false on a unix: listener (no browser reaches it)
  std::string cookie_name = "tracecol_token";  // the UI's session cookie (the server adds its port)
};

/** The head fields the policy reads: views into the request, valid for the call. Empty = absent. */
struct AccessRequest {
  std::string_view method;
  Route route = Route::not_found;
  const std::string* token_param = nullptr;  // the decoded ?token= of the target, if any
  std::string_view host;
  std::string_view origin;
  std::string_view sec_fetch_site;
  std::string_view authorization;
  std::string_view cookie;
  std::string_view access_control_request_method;
};

struct AccessVerdict {
  /** Set: answer this instead of serving the request (a refusal, a CORS preflight, the UI login). */
  std::optional<Response> answer;
  std::optional<AccessRefusal> refusal;  // set when answer is a refusal (for the counter and the log)
  /** Headers for the served response (CORS: Access-Control-Allow-Origin, Vary). */
  std::vector<std::pair<std::string, std::string>> headers;
};

class AccessPolicy {
 public:
  explicit AccessPolicy(AccessOptions options);

  /** Never throws on request content. */
  AccessVerdict check(const AccessRequest& req) const;
  bool token_required() const { return !options_.token.empty(); }

 private:
  bool host_allowed(std::string_view host_header) const;
  bool origin_allowed(std::string_view origin) const;
  AccessOptions options_;
};

/**
 * Compares in time that depends only on expected.size(), never on where given differs
 * (nor on given's length), so a remote client cannot find the token byte by byte.
 */
bool constant_time_equal(std::string_view expected, std::string_view given);

/** "Name:port", "[v6]:port" or "name" to its lowercase host part without a trailing dot. */
std::string host_of(std::string_view host_header);
/** True for localhost, *.localhost, and IPv4/IPv6 literals (a rebinding attack needs a DNS name). */
bool host_is_safe_by_default(std::string_view host);

/** "HTTPS://Grafana.Example:3000/" to "https://grafana.example:3000"; nullopt unless scheme://host[:port]. */
std::optional<std::string> normalize_origin(std::string_view origin);

/** --http-token-file read at startup: the token, or an error; warnings to log either way. */
struct TokenFile {
  std::string token;
  std::string error;  // non-empty: refuse to start (never contains the token)
  std::vector<std::string> warnings;
};
/**
 * Reads the file, drops one trailing newline (and surrounding whitespace); refuses an
 * empty token or one with characters outside RFC 6750's b64token (it also goes in a
 * cookie). Warns when group or others may read the file and when it is under 16 bytes.
 */
TokenFile read_token_file(const std::string& path);

}  // namespace tracecol::http
