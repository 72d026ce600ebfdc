#pragma once
// OTLP/HTTP's partial success: a receiver that answers 200 may still have rejected some
// spans, saying how many in ExportTraceServiceResponse.partial_success. The OTLP spec
// asks the client to report it; the exporter logs and counts it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tracecol::exporters::http {

struct PartialSuccess {
  std::uint64_t rejected_spans = 0;
  std::string message;  // error_message, printable ASCII only, at most 200 bytes
};

/**
 * Reads a 2xx answer's body: JSON ({"partialSuccess":{"rejectedSpans":"3","errorMessage":..}},
 * the count as a string or a number) or, when protobuf, the binary message (field 1:
 * partial_success {1: rejected_spans, 2: error_message}). nullopt when the body says
 * nothing of it, rejects nothing, or is not what it should be: a receiver's body is
 * untrusted and never fails a delivery.
 */
std::optional<PartialSuccess> read_partial_success(std::string_view body, bool protobuf);

}  // namespace tracecol::exporters::http
