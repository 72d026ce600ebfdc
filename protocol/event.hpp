#pragma once
// A decoded protocol line (wire protocol v1, see PROTOCOL.md).

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/span.hpp"

namespace tracecol::protocol {

enum class EventType : std::uint8_t { span, span_start, span_end, trace, trace_end, flush, hello };

std::string_view to_string(EventType type);

/** Flat rather than a variant: events are decoded into a reused batch, field by field. */
struct Event {
  EventType type = EventType::span;
  Span span;                 // span, span_start, span_end (span_end: only the fields it carried)
  std::vector<Span> spans;   // trace: its spans, each with trace_id and run_id filled in
  TraceId trace_id;          // trace, trace_end
  std::string run_id;        // trace, trace_end (may be empty)
  std::uint64_t flush_id = 0;  // flush
  std::uint32_t protocol_version = 1;  // hello
  std::string client_name;   // hello
  std::string service_name;  // hello

  /** True for the events that count as "event lines" in flushed (not flush, not hello). */
  bool is_data() const { return type != EventType::flush && type != EventType::hello; }
};

}  // namespace tracecol::protocol
