#include "daemon/http/sse_session.hpp"

#include "daemon/http/router.hpp"

namespace tracecol::http {

std::string sse_preamble(const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  // HTTP/1.1 even to a 1.0 client: the framing is the same (the body ends at close).
  std::string head =
      "HTTP/1.1 200 OK\r\n"
      "Server: tracecol\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n"
      "Connection: close\r\n"
      "X-Accel-Buffering: no\r\n";
  // The names and values come from the access policy, never from the request unchecked.
  for (const auto& [name, value] : extra_headers) head += name + ": " + value + "\r\n";
  return head + "\r\n: tracecol stream\n\n";
}

const SseEvent& sse_keepalive() {
  static const SseEvent keepalive = std::make_shared<const std::string>(": keepalive\n\n");
  return keepalive;
}

std::optional<StreamQuery> stream_query_of(const boost::beast::http::request<boost::beast::http::string_body>& req,
                                           const StreamHub* hub, bool stopping) {
  if (hub == nullptr || stopping || req.method() != boost::beast::http::verb::get) return std::nullopt;
  auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  if (!target.value || route("GET", target.value->raw_path).route != Route::stream) return std::nullopt;
  auto query = parse_stream_query(*target.value);
  if (!query.value) return std::nullopt;
  return std::move(*query.value);
}

}  // namespace tracecol::http
