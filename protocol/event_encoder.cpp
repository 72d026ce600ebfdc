#include "protocol/event_encoder.hpp"

#include "protocol/encoder.hpp"
#include "protocol/object_writer.hpp"

namespace tracecol::protocol {
namespace {

/** Exact: the decoder reads plain decimals to the nanosecond. Times are never negative. */
void append_exact_seconds(std::string& out, std::int64_t ns) {
  const auto v = static_cast<std::uint64_t>(ns);
  append_u64(out, v / 1000000000u);
  out += '.';
  append_padded(out, v % 1000000000u, 9);
}

void append_id(std::string& out, SpanId id) {
  out += '"';
  append_span_id_hex(out, id);
  out += '"';
}

void append_trace_id(std::string& out, const TraceId& id) {
  out += '"';
  id.append_hex(out);
  out += '"';
}

/** The span members after "type" (and, inside a trace line, with the trace id left out). */
void append_span_members(ObjectWriter& w, const Span& span, bool with_trace_id) {
  if (with_trace_id) append_trace_id(w.key("trace_id"), span.trace_id);
  append_id(w.key("span_id"), span.span_id);
  if (span.has(field_parent_id) && span.parent_id != 0) append_id(w.key("parent_id"), span.parent_id);
  if (span.has(field_run_id)) append_json_string(w.key("run_id"), span.run_id);
  if (span.has(field_name)) append_json_string(w.key("name"), span.name);
  if (span.has(field_kind)) append_json_string(w.key("kind"), to_string(span.kind));
  if (span.has(field_started_at)) append_exact_seconds(w.key("started_at"), span.started_at_ns);
  if (span.has(field_ended_at) && span.ended_at_ns != 0) append_exact_seconds(w.key("ended_at"), span.ended_at_ns);
  if (span.has(field_inputs)) w.raw("inputs", span.inputs);
  if (span.has(field_outputs) && !span.outputs.empty()) w.raw("outputs", span.outputs);
  if (span.has_error()) append_json_string(w.key("error"), span.error);
  if (span.has(field_metadata)) w.raw("metadata", span.metadata);
}

}  // namespace

void append_event_line(std::string& out, const Event& ev) {
  ObjectWriter w(out);
  append_json_string(w.key("type"), to_string(ev.type));
  switch (ev.type) {
    case EventType::span:
    case EventType::span_start:
    case EventType::span_end:
      append_span_members(w, ev.span, true);
      break;
    case EventType::trace: {
      append_trace_id(w.key("trace_id"), ev.trace_id);
      if (!ev.run_id.empty()) append_json_string(w.key("run_id"), ev.run_id);
      std::string& spans = w.key("spans");
      spans += '[';
      for (std::size_t i = 0; i < ev.spans.size(); ++i) {
        if (i != 0) spans += ',';
        ObjectWriter sw(spans);
        append_span_members(sw, ev.spans[i], false);
        sw.close();
      }
      spans += ']';
      break;
    }
    case EventType::trace_end:
      append_trace_id(w.key("trace_id"), ev.trace_id);
      if (!ev.run_id.empty()) append_json_string(w.key("run_id"), ev.run_id);
      break;
    case EventType::flush:
      append_u64(w.key("id"), ev.flush_id);
      break;
    case EventType::hello:
      append_u64(w.key("version"), ev.protocol_version);
      if (!ev.client_name.empty()) append_json_string(w.key("client"), ev.client_name);
      if (!ev.service_name.empty()) append_json_string(w.key("service"), ev.service_name);
      break;
  }
  w.close();
}

}  // namespace tracecol::protocol
