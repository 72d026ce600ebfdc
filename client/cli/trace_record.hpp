#pragma once
// The daemon's JSON trace and span records (GET /api/traces/{id}, /api/stream) turned
// back into protocol::Trace / protocol::Span, so tracectl renders them with the daemon's
// own code (protocol::as_tree, exporters::ConsoleExporter::format).

#include <optional>
#include <string>
#include <string_view>

#include "protocol/span.hpp"

namespace tracecol::cli {

/**
 * Decodes a trace record with protocol::Decoder (as a "trace" line), then restores what
 * the record carries beyond the wire fields: complete, follow_up, the orphan/late marks
 * and each ended span's exact duration (end = start + duration_ms, which keeps the tree's
 * rounded milliseconds identical to the daemon's even though times are printed in µs).
 * nullopt with error set when json is not such a record. Never throws on bad input.
 */
std::optional<protocol::Trace> decode_trace_record(std::string_view json, std::string& error);

/** A span object (as in a trace record's spans, or a stream "span" event). */
std::optional<protocol::Span> decode_span_record(std::string_view json, std::string& error);

/** Exactly what the daemon's --export-console writes for this trace. */
std::string render_console(const protocol::Trace& trace);

/** One line for a finished span: "[Span 3a7f1c2b 0000000000000002] llm.complete LLM [130ms]". */
std::string render_span_line(const protocol::Span& span);

}  // namespace tracecol::cli
