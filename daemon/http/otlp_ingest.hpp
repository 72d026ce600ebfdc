#pragma once
// POST /v1/traces (OTLP/HTTP, JSON only for now): header checks, the decoded request
// as one ingest batch, and the ExportTraceServiceResponse. Pure: no I/O; dispatch.cpp
// submits the batch and awaits it.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "daemon/http/api.hpp"
#include "daemon/ingest/batch_sink.hpp"
#include "protocol/otlp_decoder.hpp"

namespace tracecol::http {

/**
 * Checks Content-Type (application/json, parameters such as charset allowed) and
 * Content-Encoding (none, identity or gzip). A 415 response when either is refused;
 * nullopt when the body may be read. gzip is set when the body must be inflated.
 */
std::optional<Response> check_otlp_headers(std::string_view content_type, std::string_view content_encoding,
                                           bool& gzip);

/** Every decoded span as one span event, in request order (the spans are moved out). */
ingest::IngestBatch otlp_batch(protocol::OtlpDecodeResult& decoded);

/**
 * 200 with {} when nothing was rejected, else {"partialSuccess":{"rejectedSpans":"N",
 * "errorMessage":"..."}}: the decoder's refusals plus the pipeline's (applied).
 */
Response otlp_response(const protocol::OtlpDecodeResult& decoded,
                       const std::vector<ingest::AppliedRejection>& applied);

}  // namespace tracecol::http
