#pragma once
// Why a line was rejected. Every reason has a stable snake_case name used in logs,
// /metrics labels and PROTOCOL.md; add new reasons at the end (before count_).

#include <cstdint>
#include <string_view>

namespace tracecol::protocol {

enum class RejectReason : std::uint8_t {
  line_too_long,     // over --max-line-bytes (decided by the framer)
  invalid_utf8,      // malformed UTF-8 or an escaped lone surrogate
  invalid_json,      // not JSON, trailing bytes, bad number syntax ...
  too_deep,          // nesting over the depth limit
  duplicate_key,     // an object names the same key twice (any depth)
  not_an_object,     // the line is JSON but not an object
  missing_type,
  unknown_type,
  missing_trace_id,
  bad_trace_id,      // not 1..32 hex digits, or all zeros
  missing_span_id,
  bad_span_id,       // span_id or parent_id not 1..16 hex digits, or all zeros
  bad_kind,
  bad_time,          // not a finite non-negative number / integer nanos, or ended before started
  bad_field,         // a known field of the wrong JSON type (inputs not an object, name not a string ...)
  too_many_spans,    // over --max-spans-per-trace (decided by the assembler)
  trace_too_large,   // would take its trace past --max-trace-bytes (decided by the assembler)
  line_buffer_full,  // a long line with --max-line-buffer-bytes already held by unfinished lines (the framer)
  count_
};

std::string_view to_string(RejectReason reason);

}  // namespace tracecol::protocol
