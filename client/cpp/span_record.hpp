#pragma once
// A finished span as the client hands it to exporters, and its wire encoding.

#include <cstdint>
#include <optional>
#include <string>

#include "client/cpp/ids.hpp"

namespace tracecol::client {

/** One finished span (the seed's Span fields plus trace_id and run_id). A value type. */
struct SpanRecord {
  TraceId trace_id;
  SpanId span_id = 0;
  SpanId parent_id = 0;  // 0: a root span
  std::string run_id;
  std::string name;
  SpanKind kind = SpanKind::CUSTOM;
  std::int64_t started_at_ns = 0;  // Unix epoch nanoseconds
  std::int64_t ended_at_ns = 0;
  std::string inputs = "{}";       // JSON object text
  std::string outputs;             // JSON object text; empty: none (null)
  std::optional<std::string> error;
  std::string metadata = "{}";     // JSON object text

  double duration_ms() const { return static_cast<double>(ended_at_ns - started_at_ns) / 1e6; }
};

/** Appends the `span` protocol line, '\n' included; outputs omitted when include_outputs is false. */
void append_span_line(std::string& out, const SpanRecord& span, bool include_outputs = true);
/** Appends the `trace_end` protocol line, '\n' included. */
void append_trace_end_line(std::string& out, const TraceId& trace_id, const std::string& run_id);

}  // namespace tracecol::client
