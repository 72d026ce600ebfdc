#pragma once
// An OTLP/HTTP JSON ExportTraceServiceRequest in, tracecol spans out. Untrusted input:
// never throws, never recurses deeper than DecodeOptions::max_depth, validates the whole
// body (UTF-8, escaped surrogates, duplicate keys, depth) before RapidJSON sees it.
// Pure: no I/O.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/decoder.hpp"
#include "protocol/span.hpp"

namespace tracecol::protocol {

struct OtlpDecodeResult {
  std::vector<Span> spans;  // the accepted spans, in request order
  std::size_t rejected = 0; // spans dropped (bad/missing ids or times, wrong types)
  std::string first_error;  // why the first span (or the body) was refused; empty when none
  bool ok = true;           // false: the body itself is unusable (not JSON, too deep, ...); spans empty, rejected 0
};

/**
 * Decodes an ExportTraceServiceRequest in OTLP JSON. Ids: lowercase/uppercase hex of
 * exactly 32/16 digits, or base64 of 16/8 bytes. Times: decimal strings or JSON integers
 * (startTimeUnixNano required; endTimeUnixNano "0" or absent = open span). A name must
 * be a string: a number (or null, or anything else) refuses the span. intValue is a
 * string of digits or a JSON integer, kept exact to the int64 digit. OpenInference
 * attributes map onto the span (see otlp_decoder.cpp); tracecol.kind wins over
 * openinference.span.kind; the rest land in metadata (a "metadata." prefix is dropped),
 * plus "service.name" from the resource and "events" from span events. options:
 * max_depth, include_inputs, include_outputs and redact_keys apply as for lines.
 * Thread-safe (no shared state).
 */
OtlpDecodeResult decode_otlp_request(std::string_view json, const DecodeOptions& options);

}  // namespace tracecol::protocol
