#include "daemon/http/request_head.hpp"

#include <boost/beast/core/string.hpp>

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

}  // namespace

std::optional<Response> check_request_head(const RequestHead& head) {
  return check_transfer_encoding(head);
}

}  // namespace tracecol::http
