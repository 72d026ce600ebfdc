#include "client/cpp/span_record.hpp"

#include <charconv>

#include "client/cpp/json.hpp"

namespace tracecol::client {

namespace {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

void append_object(std::string& out, const std::string& text) {
  out += text.empty() ? std::string_view("{}") : std::string_view(text);
}

}  // namespace

void append_span_line(std::string& out, const SpanRecord& s, bool include_outputs) {
  out += R"({"type":"span","trace_id":")";
  append_hex64(out, s.trace_id.hi);
  append_hex64(out, s.trace_id.lo);
  out += R"(","span_id":")";
  append_hex64(out, s.span_id);
  if (s.parent_id != 0) {
    out += R"(","parent_id":")";
    append_hex64(out, s.parent_id);
    out += '"';
  } else {
    out += R"(","parent_id":null)";
  }
  if (!s.run_id.empty()) {
    out += R"(,"run_id":)";
    append_json_string(out, s.run_id);
  }
  out += R"(,"name":)";
  append_json_string(out, s.name);
  out += R"(,"kind":")";
  out += to_string(s.kind);
  // Exact integer nanoseconds: no rounding through a double.
  out += R"(","start_time_unix_nano":)";
  append_int(out, s.started_at_ns);
  if (s.ended_at_ns != 0) {
    out += R"(,"end_time_unix_nano":)";
    append_int(out, s.ended_at_ns);
  }
  out += R"(,"inputs":)";
  append_object(out, s.inputs);
  if (include_outputs) {
    out += R"(,"outputs":)";
    out += s.outputs.empty() ? std::string_view("null") : std::string_view(s.outputs);
  }
  out += R"(,"error":)";
  if (s.error) append_json_string(out, *s.error);
  else out += "null";
  out += R"(,"metadata":)";
  append_object(out, s.metadata);
  out += "}\n";
}

void append_trace_end_line(std::string& out, const TraceId& trace_id, const std::string& run_id) {
  out += R"({"type":"trace_end","trace_id":")";
  append_hex64(out, trace_id.hi);
  append_hex64(out, trace_id.lo);
  out += '"';
  if (!run_id.empty()) {
    out += R"(,"run_id":)";
    append_json_string(out, run_id);
  }
  out += "}\n";
}

}  // namespace tracecol::client
