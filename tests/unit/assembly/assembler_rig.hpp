#pragma once
// Helpers for the assembler tests: hand-built events and an assembler over its own store,
// driven by a clock made of time_points (no sleeping, no wall clock).

#include <string>
#include <vector>

#include "daemon/assembly/assembler.hpp"

namespace tracecol::assembly::testing {

using protocol::Event;
using protocol::EventType;
using protocol::Span;
using protocol::TraceId;

inline const Clock::time_point t0 = Clock::time_point(std::chrono::hours(1000));

inline TraceId tid(std::uint64_t n) { return TraceId{0, n}; }

inline Event span_event(std::uint64_t trace, protocol::SpanId id, protocol::SpanId parent, bool ended = true,
                 EventType type = EventType::span) {
  Event e;
  e.type = type;
  Span& s = e.span;
  s.trace_id = tid(trace);
  s.span_id = id;
  s.parent_id = parent;
  s.name = "span" + std::to_string(id);
  s.started_at_ns = 1'700'000'000'000'000'000LL + static_cast<std::int64_t>(id) * 1000;
  s.fields = protocol::field_name | protocol::field_started_at | (parent ? protocol::field_parent_id : 0);
  if (ended) {
    s.ended_at_ns = s.started_at_ns + 5'000'000;
    s.fields |= protocol::field_ended_at;
  }
  return e;
}

inline Event end_event(std::uint64_t trace, protocol::SpanId id) {
  Event e;
  e.type = EventType::span_end;
  e.span.trace_id = tid(trace);
  e.span.span_id = id;
  e.span.ended_at_ns = 1'700'000'000'000'000'000LL + static_cast<std::int64_t>(id) * 1000 + 9'000'000;
  e.span.outputs = R"({"ok":true})";
  e.span.metadata = R"({"b":2})";
  e.span.fields = protocol::field_ended_at | protocol::field_outputs | protocol::field_metadata;
  return e;
}

inline Event trace_end(std::uint64_t trace) {
  Event e;
  e.type = EventType::trace_end;
  e.trace_id = tid(trace);
  return e;
}

/** An assembler over its own store, recording everything it publishes. */
struct Rig {
  store::TraceStore store;
  std::vector<assembly::TracePtr> published;
  assembly::Assembler assembler;

  explicit Rig(assembly::AssemblerOptions options = {}, store::StoreLimits limits = {})
      : store(limits), assembler(options, store, [this](std::vector<assembly::TracePtr>&& t) {
          published.insert(published.end(), t.begin(), t.end());
        }) {}

  std::vector<assembly::Rejection> apply(std::vector<Event> events, Clock::time_point now = t0) {
    std::vector<assembly::Rejection> rejected;
    assembler.apply(events, now, &rejected);
    return rejected;
  }
};

}  // namespace tracecol::assembly::testing
