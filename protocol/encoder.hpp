#pragma once
// JSON out: spans and whole traces as the records DESIGN.md defines. Appends to a
// caller-owned string so writers can batch many records into one buffer. Never emits
// inf/nan (times are integers; durations are computed from them).

#include <string>
#include <string_view>

#include "protocol/span.hpp"

namespace tracecol::protocol {

/** Appends s as a JSON string literal (quotes included), escaping controls, '"' and '\\'. */
void append_json_string(std::string& out, std::string_view s);

/**
 * At least the bytes write_json_string(d, s) writes (quotes included); one pass over s.
 * The bound of a string is at most the sum of its pieces' bounds.
 */
std::size_t json_string_bound(std::string_view s);

/**
 * Writes what append_json_string appends, through a cursor: d must have
 * json_string_bound(s) bytes of room. Returns the new end. For encoders that size a
 * whole record once (otlp_encoder) instead of growing a string per piece.
 */
char* write_json_string(char* d, std::string_view s);

/**
 * The first byte of s that append_json_string escapes, or s.size(); scans 8 or 16 bytes at
 * a time. In valid JSON string content that is the closing quote or a backslash.
 */
std::size_t json_escape_position(std::string_view s);

/** Appends nanoseconds as Unix epoch seconds with microsecond precision, e.g. 1732500000.123456. */
void append_epoch_seconds(std::string& out, std::int64_t ns);

/**
 * A span object: span_id, parent_id (null for roots), trace_id, run_id, name, kind,
 * started_at, ended_at (null while open), duration_ms (null while open), inputs,
 * outputs (null when absent), error (null when none), metadata, and orphan / late
 * flags when set. depth >= 0 adds "depth" (tree position).
 */
void append_span_json(std::string& out, const Span& span, int depth = -1);

/**
 * The span's metadata object as stored, plus "peer.pid" and "peer.uid" when the span
 * came over the agents' socket (has_peer).
 */
void append_metadata_json(std::string& out, const Span& span);

/**
 * A trace record: trace_id, run_id, complete, started_at, ended_at, duration_ms,
 * span_count, error_count, spans (tree order, each with depth), plus "follow_up": true
 * for a late-span record. No trailing newline.
 */
void append_trace_json(std::string& out, const Trace& trace);

}  // namespace tracecol::protocol
