#include "daemon/http/otlp_ingest.hpp"

#include <boost/beast/core/string.hpp>

#include <string>

#include "daemon/http/gzip.hpp"
#include "protocol/encoder.hpp"
#include "protocol/reject_reason.hpp"

namespace tracecol::http {
namespace {

std::string_view trim(std::string_view s) {
  const std::size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const std::size_t last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

}  // namespace

std::optional<Response> check_otlp_headers(std::string_view content_type, std::string_view content_encoding,
                                           bool& gzip) {
  gzip = false;
  const std::string_view media = trim(content_type.substr(0, content_type.find(';')));
  if (boost::beast::iequals(media, "application/x-protobuf") || boost::beast::iequals(media, "application/protobuf"))
    return error_response(415, "only JSON (application/json) is supported for now; protobuf is not");
  if (!boost::beast::iequals(media, "application/json"))
    return error_response(415, "unsupported Content-Type: only JSON (application/json) is supported for now");
  switch (body_coding(content_encoding)) {
    case BodyCoding::identity: return std::nullopt;
    case BodyCoding::gzip: gzip = true; return std::nullopt;
    case BodyCoding::unsupported: break;
  }
  return error_response(415, "unsupported Content-Encoding: only gzip is supported");
}

ingest::IngestBatch otlp_batch(protocol::OtlpDecodeResult& decoded) {
  ingest::IngestBatch batch;
  batch.events.reserve(decoded.spans.size());
  for (auto& span : decoded.spans) {
    protocol::Event& e = batch.events.emplace_back();
    e.type = protocol::EventType::span;
    e.span = std::move(span);
  }
  decoded.spans.clear();
  return batch;
}

Response otlp_response(const protocol::OtlpDecodeResult& decoded,
                       const std::vector<ingest::AppliedRejection>& applied) {
  const std::size_t rejected = decoded.rejected + applied.size();
  Response r;
  if (rejected == 0) {
    r.body = "{}";
    return r;
  }
  std::string message = decoded.first_error;
  if (message.empty() && !applied.empty()) message = std::string(protocol::to_string(applied.front().reason));
  r.body = "{\"partialSuccess\":{\"rejectedSpans\":\"" + std::to_string(rejected) + "\",\"errorMessage\":";
  protocol::append_json_string(r.body, message);
  r.body += "}}";
  return r;
}

}  // namespace tracecol::http
