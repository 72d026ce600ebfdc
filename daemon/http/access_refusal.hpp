#pragma once
// Why the HTTP access policy (access_policy.hpp) refused a request: a fixed label set for
// tracecol_http_access_denied_total{reason}. Its own header so metrics.hpp needs no more.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tracecol::http {

enum class AccessRefusal : std::uint8_t {
  host,           // 403: Host is not loopback, an IP literal or an --http-allowed-host (DNS rebinding)
  cross_site,     // 403: Sec-Fetch-Site: cross-site from an origin not in --http-cors-origin
  origin,         // 403: a CORS preflight from an origin not in --http-cors-origin
  missing_token,  // 401: --http-token-file is set and the request carries no token
  bad_token,      // 401: the request carries a token and it is wrong
  count_
};

inline constexpr std::size_t access_refusal_count = static_cast<std::size_t>(AccessRefusal::count_);

std::string_view to_string(AccessRefusal reason);

}  // namespace tracecol::http
