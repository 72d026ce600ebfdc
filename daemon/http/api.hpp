#pragma once
// The HTTP API's endpoints as plain functions from a parsed request to a response.
// They read the store only through TraceStore's reader methods (any thread) and never
// touch the network, so they are unit-tested without a socket.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/http/query.hpp"
#include "daemon/ingest/batch_sink.hpp"
#include "daemon/store/trace_store.hpp"
#include "protocol/decoder.hpp"

namespace tracecol::http {

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  /** When set, the body instead of `body`: immutable shared bytes (a cached trace record), sent uncopied. */
  std::shared_ptr<const store::TraceRecord> shared_body;
  std::string allow;  // set on 405
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers (the web UI's caching and CSP)
};

/** {"error": message} with the given status. */
Response error_response(unsigned status, std::string_view message);

/**
 * GET /api/traces: newest first, {"traces":[summary...],"next_cursor":id|null}.
 * Paging: next_cursor is the trace_id of the page's last trace; passing it back as
 * `cursor` (with the same filters) returns the traces stored before it. Insertion order
 * is the store's order, so a trace that arrives meanwhile never shifts a page; when the
 * cursor's trace has been evicted every older trace is gone too and the page is empty.
 */
Response list_traces(const store::TraceStore& store, const ListQuery& query);

/** GET /api/traces/{id}: the whole trace record; 400 for a malformed id, 404 when absent. */
Response get_trace(const store::TraceStore& store, std::string_view id_text);

/** GET /api/traces/{id}/tree: text/plain, tree_header + "\n" + as_tree. */
Response get_trace_tree(const store::TraceStore& store, std::string_view id_text);

/** GET /api/runs/{run_id}: {"run_id":..,"traces":[full traces, oldest first]}; 404 when none. */
Response get_run(const store::TraceStore& store, std::string_view run_id);

/** One summary object of /api/traces (appended to out). */
void append_trace_summary(std::string& out, const protocol::Trace& trace);

/** A POST /api/spans body decoded into one batch. */
struct DecodedBody {
  ingest::IngestBatch batch;
  std::vector<std::size_t> event_lines;  // 1-based line number in the body of each batch event
  struct LineError {
    std::size_t line;
    std::string reason;
  };
  std::vector<LineError> errors;  // every refused line, in line order
  std::size_t lines = 0;          // non-blank lines
  std::size_t blank_lines = 0;    // empty or whitespace-only: skipped, counted like the socket's
  std::size_t control_lines = 0;  // flush / hello: neither accepted nor rejected
  std::size_t too_long = 0;       // of the errors, lines over max_line_bytes
};

/**
 * Splits body on '\n' (a trailing '\r' is dropped, blank lines skipped and counted),
 * decodes each line; lines longer than max_line_bytes are refused as line_too_long. Line
 * numbers count every line of the body, blank ones too, as an editor or `sed -n Np` does.
 */
DecodedBody decode_body(std::string_view body, protocol::Decoder& decoder, std::size_t max_line_bytes);

/**
 * After the pipeline applied the batch: {"accepted":N,"rejected":M,"errors":[{"line":k,
 * "reason":"..."}]} with at most 20 errors, in line order. Adds the applied rejections
 * to decoded.errors.
 */
Response ingest_response(DecodedBody& decoded, const std::vector<ingest::AppliedRejection>& applied);

inline constexpr std::size_t max_reported_errors = 20;

}  // namespace tracecol::http
