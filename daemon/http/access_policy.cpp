#include "daemon/http/access_policy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace tracecol::http {
namespace {

constexpr std::string_view allowed_request_headers = "Authorization, Content-Type, Content-Encoding";
constexpr std::size_t max_token_file_bytes = 4096;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/** RFC 6750 b64token characters; also all valid in a cookie value. */
bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

/** The value of cookie `name` in a Cookie header ("a=1; b=2"), or nullopt. */
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t semi = header.find(';');
    const std::string_view pair = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
  }
  return std::nullopt;
}

Response refusal(unsigned status, std::string_view message) { return error_response(status, message); }

Response unauthorized(bool bad_token) {
  Response r = error_response(401, bad_token ? "invalid token"
                                             : "missing token: send Authorization: Bearer <token>, or open "
                                               "/?token=<token> once in a browser");
  r.headers.emplace_back("WWW-Authenticate",
                         bad_token ? "Bearer realm=\"tracecol\", error=\"invalid_token\"" : "Bearer realm=\"tracecol\"");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

std::string_view to_string(AccessRefusal reason) {
  switch (reason) {
    case AccessRefusal::host: return "host";
    case AccessRefusal::cross_site: return "cross_site";
    case AccessRefusal::origin: return "origin";
    case AccessRefusal::missing_token: return "missing_token";
    case AccessRefusal::bad_token: return "bad_token";
    case AccessRefusal::count_: break;
  }
  return "unknown";
}

bool constant_time_equal(std::string_view expected, std::string_view given) {
  // volatile: the compiler may not turn the loop into an early-exit memcmp.
  volatile unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(expected[i]) ^ g));
  }
  return diff == 0;
}

std::string host_of(std::string_view h) {
  h = trim(h);
  std::string_view host = h;
  if (h.starts_with('[')) {
    const std::size_t close = h.find(']');
    host = close == std::string_view::npos ? h : h.substr(1, close - 1);
  } else if (const std::size_t colon = h.find(':'); colon != std::string_view::npos && h.rfind(':') == colon) {
    host = h.substr(0, colon);
  }
  std::string out = lower(host);
  if (out.size() > 1 && out.back() == '.') out.pop_back();
  return out;
}

bool host_is_safe_by_default(std::string_view host) {
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  // A browser sends an IP literal only when the page's own origin is that address, so the
  // same-origin policy already holds; rebinding needs a name the attacker's DNS answers.
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(std::string(host), ec);
  return !ec;
}

std::optional<std::string> normalize_origin(std::string_view origin) {
  std::string o = lower(trim(origin));
  if (o.ends_with('/')) o.pop_back();
  std::string_view rest;
  if (o.starts_with("http://")) rest = std::string_view(o).substr(7);
  else if (o.starts_with("https://")) rest = std::string_view(o).substr(8);
  else return std::nullopt;
  if (rest.empty()) return std::nullopt;
  for (char c : rest) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_')) return std::nullopt;
  }
  return o;
}

AccessPolicy::AccessPolicy(AccessOptions options) : options_(std::move(options)) {
  for (auto& h : options_.allowed_hosts) h = host_of(h);
  // finalize() refused malformed origins; drop any left so no header ever carries one.
  std::vector<std::string> origins;
  for (const auto& o : options_.cors_origins)
    if (auto n = normalize_origin(o)) origins.push_back(std::move(*n));
  options_.cors_origins = std::move(origins);
}

bool AccessPolicy::host_allowed(std::string_view host_header) const {
  const std::string host = host_of(host_header);
  if (host_is_safe_by_default(host)) return true;
  return std::find(options_.allowed_hosts.begin(), options_.allowed_hosts.end(), host) != options_.allowed_hosts.end();
}

bool AccessPolicy::origin_allowed(std::string_view origin) const {
  if (origin.empty() || options_.cors_origins.empty()) return false;
  const std::string o = lower(trim(origin));
  return std::find(options_.cors_origins.begin(), options_.cors_origins.end(), o) != options_.cors_origins.end();
}

AccessVerdict AccessPolicy::check(const AccessRequest& req) const {
  AccessVerdict v;
  auto refuse = [&v](AccessRefusal reason, Response r) {
    for (auto& h : v.headers) r.headers.push_back(h);  // a permitted origin may read why
    v.refusal = reason;
    v.answer = std::move(r);
    return v;
  };
  // The liveness probe stays open: the kubelet sends Host = the pod IP and no token, and it
  // reveals nothing. /readyz is checked like every other route (the rule: a token
  // on all but /healthz); the kubelet's Host, an IP literal, passes the Host check.
  if (req.route == Route::healthz) return v;
  // An absent Host is no browser's (HTTP/1.0 tools: request_head.cpp refuses HTTP/1.1 without one);
  // a Unix socket no browser reaches.
  if (options_.check_host && !req.host.empty() && !host_allowed(req.host))
    return refuse(AccessRefusal::host, refusal(403, "host not allowed (see --http-allowed-host)"));

  const bool origin_ok = origin_allowed(req.origin);
  if (!options_.cors_origins.empty()) {
    v.headers.emplace_back("Vary", "Origin");
    if (origin_ok) v.headers.emplace_back("Access-Control-Allow-Origin", lower(trim(req.origin)));
  }
  if (req.method == "OPTIONS" && !req.origin.empty() && !req.access_control_request_method.empty() &&
      !options_.cors_origins.empty()) {
    // A CORS preflight carries no credentials: answer it before authentication.
    if (!origin_ok) return refuse(AccessRefusal::origin, refusal(403, "origin not allowed (see --http-cors-origin)"));
    Response r;
    r.status = 204;
    r.headers = v.headers;
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, POST");
    r.headers.emplace_back("Access-Control-Allow-Headers", std::string(allowed_request_headers));
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    v.answer = std::move(r);
    return v;
  }
  if (iequal(trim(req.sec_fetch_site), "cross-site") && !origin_ok)
    return refuse(AccessRefusal::cross_site, refusal(403, "cross-site request refused"));

  if (options_.token.empty()) return v;
  if (req.route == Route::ui && req.token_param != nullptr && (req.method == "GET" || req.method == "HEAD")) {
    // The UI's sign-in: the token once in the URL becomes an HttpOnly, SameSite=Strict
    // cookie, and the redirect drops it from the address bar. EventSource cannot send an
    // Authorization header; the cookie reaches every same-origin request, no script reads it.
    if (!constant_time_equal(options_.token, *req.token_param))
      return refuse(AccessRefusal::bad_token, unauthorized(true));
    Response r;
    r.status = 303;
    r.headers = v.headers;
    r.headers.emplace_back("Location", "/");
    r.headers.emplace_back("Set-Cookie", options_.cookie_name + "=" + options_.token + "; Path=/; HttpOnly; SameSite=Strict");
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    v.answer = std::move(r);
    return v;
  }
  if (!req.authorization.empty()) {
    const std::string_view a = trim(req.authorization);
    const std::size_t space = a.find(' ');
    const bool bearer = space != std::string_view::npos && iequal(a.substr(0, space), "bearer");
    if (!bearer || !constant_time_equal(options_.token, trim(a.substr(space + 1))))
      return refuse(AccessRefusal::bad_token, unauthorized(true));
    return v;
  }
  if (auto c = cookie_value(req.cookie, options_.cookie_name)) {
    if (!constant_time_equal(options_.token, *c)) return refuse(AccessRefusal::bad_token, unauthorized(true));
    return v;
  }
  return refuse(AccessRefusal::missing_token, unauthorized(false));
}

TokenFile read_token_file(const std::string& path) {
  TokenFile out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.error = "--http-token-file " + path + ": cannot open it";
    return out;
  }
  struct stat info {};
  std::string bytes;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size <= static_cast<off_t>(max_token_file_bytes)) {
    bytes.resize(max_token_file_bytes + 1);
    std::size_t got = 0;
    for (ssize_t n; got < bytes.size() && (n = ::read(fd, bytes.data() + got, bytes.size() - got)) > 0;)
      got += static_cast<std::size_t>(n);
    bytes.resize(got);
  } else {
    ::close(fd);
    out.error = "--http-token-file " + path + ": not a regular file of at most 4096 bytes";
    return out;
  }
  ::close(fd);
  std::string_view t = bytes;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  if (t.empty()) {
    out.error = "--http-token-file " + path + ": the file is empty";
    return out;
  }
  if (!std::all_of(t.begin(), t.end(), is_token_char)) {
    out.error = "--http-token-file " + path +
                ": the token must be one line of letters, digits and -._~+/= (e.g. openssl rand -hex 32)";
    return out;
  }
  out.token = std::string(t);
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    out.warnings.push_back("--http-token-file " + path + " is accessible to group or others (mode " + mode +
                           "); chmod 0600 it");
  }
  if (out.token.size() < 16)
    out.warnings.push_back("--http-token-file " + path + ": the token is shorter than 16 characters; use e.g. openssl rand -hex 32");
  return out;
}

}  // namespace tracecol::http
