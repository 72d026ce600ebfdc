#pragma once
// http:// and https:// URLs for the HTTP exporter. Pure.

#include <optional>
#include <string>
#include <string_view>

namespace tracecol::exporters::http {

struct Url {
  bool tls = false;
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // "80" / "443" when the URL gives none
  std::string target;  // path and query, "/" when the URL has none
  /** "host:port" as sent in the Host header (brackets kept for IPv6). */
  std::string host_header;
};

/**
 * Parses scheme://host[:port][/path][?query]. Userinfo (user:pass@) is refused: put
 * credentials in --export-http-header, which is never logged. nullopt + message on error.
 */
std::optional<Url> parse_url(std::string_view text, std::string* error = nullptr);

/** The URL as a log or error message may show it: userinfo (user:pass@) becomes "***@". */
std::string url_for_log(std::string_view text);

}  // namespace tracecol::exporters::http
