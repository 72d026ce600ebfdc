#include "daemon/http/request_head.hpp"

#include <boost/beast/core/string.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace tracecol::http {
namespace {

namespace bhttp = boost::beast::http;

std::string_view trim(std::string_view s) {
  const std::size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/**
 * Beast frames a body by chunked only when it is the last coding, and by Content-Length
 * otherwise: "chunked, identity" was read as no body and the bytes after it as the next
 * request (smuggling), "xchunked" with a Content-Length by the length. So exactly one
 * coding, chunked, is served; anything else is refused before the body is read.
 */
std::optional<Response> check_transfer_encoding(const RequestHead& head) {
  std::vector<std::string_view> codings;  // across every Transfer-Encoding field, in order
  const auto [first, last] = head.equal_range(bhttp::field::transfer_encoding);
  for (auto field = first; field != last; ++field) {
    std::string_view list(field->value().data(), field->value().size());
    for (;;) {
      const std::size_t comma = list.find(',');
      codings.push_back(trim(list.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (codings.empty()) return std::nullopt;
  if (head.version() < 11) return error_response(400, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
  const auto is_chunked = [](std::string_view c) { return boost::beast::iequals(c, "chunked"); };
  if (!is_chunked(codings.back()))
    return error_response(400, "Transfer-Encoding must end in chunked: the body length cannot be known");
  codings.pop_back();
  if (codings.empty()) return std::nullopt;
  for (std::string_view c : codings)
    if (is_chunked(c)) return error_response(400, "Transfer-Encoding holds chunked more than once");
  return error_response(501, "unsupported Transfer-Encoding: only chunked is understood");
}

/**
 * RFC 9112 §3.2: exactly one Host in HTTP/1.1, and an http URI's host is never empty (RFC
 * 9110 §4.2.1). The access policy decides on the first Host, Authorization, Sec-Fetch-Site
 * and Origin: a second one is where a proxy that reads the last would disagree with it.
 */
std::optional<Response> check_single_fields(const RequestHead& head) {
  const std::size_t hosts = head.count(bhttp::field::host);
  if (hosts == 0 && head.version() >= 11) return error_response(400, "an HTTP/1.1 request needs a Host header");
  if (hosts > 1) return error_response(400, "more than one Host header");
  if (hosts == 1) {
    const auto host = head[bhttp::field::host];
    if (trim(std::string_view(host.data(), host.size())).empty()) return error_response(400, "empty Host header");
  }
  for (const char* name : {"Authorization", "Sec-Fetch-Site", "Origin"}) {
    if (head.count(name) > 1) return error_response(400, std::string("more than one ") + name + " header");
  }
  return std::nullopt;
}

}  // namespace

std::optional<Response> check_request_head(const RequestHead& head) {
  if (auto refused = check_transfer_encoding(head)) return refused;
  return check_single_fields(head);
}

}  // namespace tracecol::http
