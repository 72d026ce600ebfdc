// Stable names of event types and rejection reasons (logs, metrics labels, PROTOCOL.md).
#include <array>

#include "protocol/event.hpp"
#include "protocol/reject_reason.hpp"

namespace tracecol::protocol {

std::string_view to_string(EventType type) {
  constexpr std::array<std::string_view, 7> names = {"span", "span_start", "span_end", "trace",
                                                     "trace_end", "flush", "hello"};
  const auto i = static_cast<std::size_t>(type);
  return i < names.size() ? names[i] : "unknown";
}

std::string_view to_string(RejectReason reason) {
  constexpr std::array<std::string_view, static_cast<std::size_t>(RejectReason::count_)> names = {
      "line_too_long", "invalid_utf8", "invalid_json", "too_deep",         "duplicate_key", "not_an_object",
      "missing_type",  "unknown_type", "missing_trace_id", "bad_trace_id", "missing_span_id", "bad_span_id",
      "bad_kind",      "bad_time",     "bad_field",        "too_many_spans",
      "trace_too_large", "line_buffer_full"};
  const auto i = static_cast<std::size_t>(reason);
  return i < names.size() ? names[i] : "unknown";
}

}  // namespace tracecol::protocol
