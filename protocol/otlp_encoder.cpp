#include "protocol/otlp_encoder.hpp"

#include <charconv>

#include "protocol/encoder.hpp"
#include "protocol/json_scanner.hpp"

namespace tracecol::protocol {
namespace {

std::string_view openinference_kind(SpanKind kind) {
  switch (kind) {
    case SpanKind::agent:
    case SpanKind::team: return "AGENT";
    case SpanKind::tool: return "TOOL";
    case SpanKind::llm: return "LLM";
    case SpanKind::chain: return "CHAIN";
    case SpanKind::custom: return "UNKNOWN";
  }
  return "UNKNOWN";
}

void append_nanos_string(std::string& out, std::int64_t ns) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, ns).ptr;
  out += '"';
  out.append(buf, static_cast<std::size_t>(end - buf));
  out += '"';
}

/** Writes the attributes array; commas live here only. */
class AttributeWriter {
 public:
  explicit AttributeWriter(std::string& out) : out_(out) { out_ += '['; }
  /** Starts {"key":..,"value":{"<type>": and returns the buffer for the value. */
  std::string& begin(std::string_view key, std::string_view type) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += "{\"key\":";
    append_json_string(out_, key);
    out_ += ",\"value\":{\"";
    out_ += type;
    out_ += "\":";
    return out_;
  }
  void end() { out_ += "}}"; }
  void string(std::string_view key, std::string_view value) {
    append_json_string(begin(key, "stringValue"), value);
    end();
  }
  void close() { out_ += ']'; }

 private:
  std::string& out_;
  bool first_ = true;
};

/** A JSON integer that fits int64: the only numbers OTLP's intValue can carry. */
bool is_integer_token(std::string_view token) {
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  return ec == std::errc() && ptr == token.data() + token.size();
}

/** One attribute per top-level member of the (validated) metadata object. */
void append_metadata_attributes(AttributeWriter& attrs, std::string_view metadata) {
  JsonScanner scan;
  scan.reset(metadata.data(), metadata.data() + metadata.size(), 1u << 20);
  const char* p = scan.begin();
  scan.skip_ws(p);
  if (p >= scan.end() || *p != '{') return;
  ++p;
  std::string key = "metadata.";
  std::string text;
  for (;;) {
    scan.skip_ws(p);
    if (p >= scan.end() || *p != '"') return;
    std::string_view raw;
    bool escaped;
    if (!scan.scan_string(p, raw, escaped)) return;
    key.resize(9);
    if (escaped) JsonScanner::unescape(raw, key);
    else key += raw;
    scan.skip_ws(p);
    if (p >= scan.end() || *p != ':') return;
    ++p;
    scan.skip_ws(p);
    if (p >= scan.end()) return;
    const char* value_at = p;
    if (*p == '"') {
      if (!scan.scan_string(p, raw, escaped)) return;
      text.clear();
      if (escaped) JsonScanner::unescape(raw, text);
      else text.assign(raw);
      attrs.string(key, text);
    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
      std::string_view token;
      if (!scan.scan_number(p, token)) return;
      if (is_integer_token(token)) {
        std::string& v = attrs.begin(key, "intValue");
        v += '"';
        v += token;
        v += '"';
        attrs.end();
      } else if (JsonScanner::fits_double(token)) {
        attrs.begin(key, "doubleValue") += token;
        attrs.end();
      } else {
        attrs.string(key, token);
      }
    } else if (*p == 't' || *p == 'f') {
      if (!scan.skip_value(p, 1)) return;
      attrs.begin(key, "boolValue") += std::string_view(value_at, static_cast<std::size_t>(p - value_at));
      attrs.end();
    } else {
      if (!scan.skip_value(p, 1)) return;
      attrs.string(key, std::string_view(value_at, static_cast<std::size_t>(p - value_at)));
    }
    scan.skip_ws(p);
    if (p >= scan.end() || *p != ',') return;
    ++p;
  }
}

void append_span(std::string& out, const Span& span) {
  out += "{\"traceId\":\"";
  span.trace_id.append_hex(out);
  out += "\",\"spanId\":\"";
  append_span_id_hex(out, span.span_id);
  out += '"';
  if (span.parent_id != 0) {
    out += ",\"parentSpanId\":\"";
    append_span_id_hex(out, span.parent_id);
    out += '"';
  }
  out += ",\"name\":";
  append_json_string(out, span.name);
  out += ",\"kind\":1,\"startTimeUnixNano\":";
  append_nanos_string(out, span.started_at_ns);
  if (span.ended()) {
    out += ",\"endTimeUnixNano\":";
    append_nanos_string(out, span.ended_at_ns);
  }
  out += ",\"attributes\":";
  AttributeWriter attrs(out);
  attrs.string("openinference.span.kind", openinference_kind(span.kind));
  attrs.string("tracecol.kind", to_string(span.kind));
  if (!span.run_id.empty()) {
    attrs.string("session.id", span.run_id);
    attrs.string("tracecol.run_id", span.run_id);
  }
  if (!span.inputs.empty() && span.inputs != "{}") {
    attrs.string("input.value", span.inputs);
    attrs.string("input.mime_type", "application/json");
  }
  if (!span.outputs.empty()) {
    attrs.string("output.value", span.outputs);
    attrs.string("output.mime_type", "application/json");
  }
  append_metadata_attributes(attrs, span.metadata);
  attrs.close();
  if (span.has_error()) {
    out += ",\"status\":{\"code\":2,\"message\":";
    append_json_string(out, span.error);
    out += '}';
  } else if (span.ended()) {
    out += ",\"status\":{\"code\":1}";
  }
  out += '}';
}

template <typename Traces>
void append_request(std::string& out, const Traces& traces, std::string_view service_name) {
  append_otlp_request_head(out, service_name);
  bool first = true;
  for (const auto& trace : traces) {
    if (trace == nullptr || trace->spans.empty()) continue;
    if (!first) out += ',';
    first = false;
    append_otlp_spans(out, *trace);
  }
  append_otlp_request_tail(out);
}

}  // namespace

void append_otlp_request_head(std::string& out, std::string_view service_name) {
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":";
  append_json_string(out, service_name);
  out += "}}]},\"scopeSpans\":[{\"scope\":{\"name\":";
  append_json_string(out, otlp_scope_name);
  out += ",\"version\":";
  append_json_string(out, otlp_scope_version);
  out += "},\"spans\":[";
}

void append_otlp_spans(std::string& out, const Trace& trace) {
  bool first = true;
  for (const Span& span : trace.spans) {
    if (!first) out += ',';
    first = false;
    append_span(out, span);
  }
}

void append_otlp_request_tail(std::string& out) { out += "]}]}]}"; }

void append_otlp_request(std::string& out, std::span<const std::shared_ptr<const Trace>> traces,
                         std::string_view service_name) {
  append_request(out, traces, service_name);
}

void append_otlp_request(std::string& out, std::span<const Trace* const> traces, std::string_view service_name) {
  append_request(out, traces, service_name);
}

}  // namespace tracecol::protocol
