#pragma once
// Traces out as an OTLP/HTTP protobuf ExportTraceServiceRequest (opentelemetry-proto
// collector/trace/v1, binary wire format, Content-Type application/x-protobuf): OTLP's
// default encoding, and the only one some receivers take (Arize Phoenix's /v1/traces
// answers 415 to JSON). The same spans and attributes as the JSON encoding
// (otlp_encoder.hpp), with raw bytes where JSON needs escapes: ids as 16 and 8 bytes,
// times as fixed64, input.value / output.value copied as they are.
// Written by hand: the wire format is varints, fixed-width numbers and length-prefixed
// bytes, and a span's encoding is a few memcpys. Pure: no I/O; appends to a caller-owned buffer.

#include <span>
#include <string>
#include <string_view>

#include "protocol/byte_buffer.hpp"
#include "protocol/span.hpp"

namespace tracecol::protocol {

/**
 * Appends one resource_spans entry (field 1 of ExportTraceServiceRequest) holding every
 * span of trace in arrival order: resource attribute service.name = service_name, one
 * scope_spans under the tracecol scope. A request is any concatenation of these (repeated
 * fields concatenate), so an exporter can batch traces by appending. A trace with no
 * spans appends nothing.
 */
void append_otlp_proto_resource_spans(std::string& out, const Trace& trace, std::string_view service_name);
/** The same into a ByteBuffer: the exporter's, which skips zeroing the space each span reserves. */
void append_otlp_proto_resource_spans(ByteBuffer& out, const Trace& trace, std::string_view service_name);

/** A whole ExportTraceServiceRequest for traces (null pointers skipped). */
void append_otlp_proto_request(std::string& out, std::span<const Trace* const> traces, std::string_view service_name);

}  // namespace tracecol::protocol
