#include "daemon/export/http/url.hpp"

#include <algorithm>
#include <cctype>

namespace tracecol::exporters::http {
namespace {

std::optional<Url> fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

}  // namespace

std::optional<Url> parse_url(std::string_view text, std::string* error) {
  Url url;
  if (text.substr(0, 7) == "http://") {
    text.remove_prefix(7);
  } else if (text.substr(0, 8) == "https://") {
    url.tls = true;
    text.remove_prefix(8);
  } else {
    return fail(error, "expected an http:// or https:// URL");
  }
  const std::size_t path_at = std::min(text.find('/'), text.find('?'));
  std::string_view authority = text.substr(0, path_at);
  url.target = path_at == std::string_view::npos ? "/" : std::string(text.substr(path_at));
  if (url.target.front() == '?') url.target = "/" + url.target;  // not insert(0, ..): g++ 12 -Wrestrict false positive
  if (authority.find('@') != std::string_view::npos)
    return fail(error, "credentials in the URL are not supported; use --export-http-header");
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail(error, "unclosed [ in the host");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail(error, "junk after the IPv6 host");
      port = rest.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return fail(error, "no host");
  for (char c : host)
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '\\') return fail(error, "bad host");
  for (char c : url.target)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return fail(error, "spaces or control bytes in the path");
  if (port.empty()) {
    port = url.tls ? "443" : "80";
  } else {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return fail(error, "bad port");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return fail(error, "bad port");
  }
  url.host = std::string(host);
  url.port = std::string(port);
  const bool v6 = url.host.find(':') != std::string::npos;
  url.host_header = (v6 ? "[" + url.host + "]" : url.host) + ":" + url.port;
  return url;
}

std::string url_for_log(std::string_view text) {
  const std::size_t scheme = text.find("://");
  const std::size_t from = scheme == std::string_view::npos ? 0 : scheme + 3;
  const std::size_t end = text.find_first_of("/?#", from);
  const std::string_view authority = text.substr(from, end == std::string_view::npos ? end : end - from);
  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  return std::string(text.substr(0, from)) + "***" + std::string(text.substr(from + at));
}

}  // namespace tracecol::exporters::http
