#include "protocol/otlp_encoder.hpp"

#include <array>
#include <charconv>
#include <cstring>

#include "protocol/encoder.hpp"
#include "protocol/json_scanner.hpp"
#include "protocol/metadata_members.hpp"

namespace tracecol::protocol {

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

namespace {

/** ns as a JSON string ("1732500000123456789", as OTLP spells 64-bit integers) at d; returns the new end. */
char* write_nanos_string(char* d, std::int64_t ns) {
  *d++ = '"';
  d = std::to_chars(d, d + 20, ns).ptr;
  *d++ = '"';
  return d;
}

/** 16 lowercase hex digits of v into d (a byte-pair table: two digits per lookup). */
void write_hex16(char* d, std::uint64_t v) {
  static constexpr auto pairs = [] {
    std::array<char, 512> t{};
    constexpr char digits[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      t[static_cast<std::size_t>(2 * i)] = digits[i >> 4];
      t[static_cast<std::size_t>(2 * i + 1)] = digits[i & 15];
    }
    return t;
  }();
  for (int i = 7; i >= 0; --i) {
    std::memcpy(d + 2 * i, &pairs[2 * (v & 0xff)], 2);
    v >>= 8;
  }
}

/** {"key":"<key>","value":{"<type>": — the constant head of an attribute, spelled once. */
#define TRACECOL_OTLP_ATTR(key, type) "{\"key\":\"" key "\",\"value\":{\"" type "\":"

/** The kind attributes of each SpanKind, whole: openinference.span.kind then tracecol.kind. */
const std::array<std::string, span_kind_count>& kind_attributes() {
  static const std::array<std::string, span_kind_count> all = [] {
    std::array<std::string, span_kind_count> t;
    for (std::size_t k = 0; k < span_kind_count; ++k) {
      const auto kind = static_cast<SpanKind>(k);
      std::string& a = t[k];
      a = TRACECOL_OTLP_ATTR("openinference.span.kind", "stringValue");
      append_json_string(a, openinference_kind(kind));
      a += "}}," TRACECOL_OTLP_ATTR("tracecol.kind", "stringValue");
      append_json_string(a, to_string(kind));
      a += "}}";
    }
    return t;
  }();
  return all;
}

/**
 * Writes the attributes array; commas live here only. Keys are literal heads or
 * metadata keys already in JSON string form, so no key is escaped per span.
 */
class AttributeWriter {
 public:
  explicit AttributeWriter(std::string& out) : out_(out) { out_ += '['; }
  /** Appends a literal head (TRACECOL_OTLP_ATTR) or whole attributes; returns the buffer for the value. */
  std::string& literal(std::string_view text) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += text;
    return out_;
  }
  /**
   * The head of "metadata.<key>": key_json is the key's JSON string content (escapes as
   * JSON wants). Sized once and copied in: six appends, each checking capacity, were a
   * tenth of the encoder's instructions.
   */
  std::string& metadata(std::string_view key_json, std::string_view type) {
    static constexpr std::string_view head = ",{\"key\":\"metadata.";
    static constexpr std::string_view middle = "\",\"value\":{\"";
    const std::string_view lead = first_ ? head.substr(1) : head;
    first_ = false;
    const std::size_t at = out_.size();
    out_.resize(at + lead.size() + key_json.size() + middle.size() + type.size() + 2);
    char* d = out_.data() + at;
    for (const std::string_view part : {lead, key_json, middle, type, std::string_view("\":")}) {
      std::memcpy(d, part.data(), part.size());
      d += part.size();
    }
    return out_;
  }
  void end() { out_ += "}}"; }
  void close() { out_ += ']'; }

 private:
  std::string& out_;
  bool first_ = true;
};

/**
 * The JSON string content append_json_string would write for a string read as written:
 * unescaped content already is it; escaped content is decoded and re-escaped (into
 * scratch) so every escape comes out in one canonical spelling.
 */
std::string_view json_content(std::string_view raw, bool escaped, std::string& scratch) {
  if (!escaped) return raw;
  std::string text;
  JsonScanner::unescape(raw, text);
  scratch.clear();
  append_json_string(scratch, text);
  return std::string_view(scratch).substr(1, scratch.size() - 2);
}

/** One attribute per top-level member of the (validated) metadata object. */
void append_metadata_attributes(AttributeWriter& attrs, std::string_view metadata) {
  std::string key_scratch, value_scratch;
  for_each_metadata_member(metadata, [&](const MetadataMember& m) {
    const std::string_view key = json_content(m.key, m.key_escaped, key_scratch);
    switch (m.type) {
      case MemberType::string: {
        std::string& v = attrs.metadata(key, "stringValue");
        v += '"';
        v += json_content(m.value, m.value_escaped, value_scratch);
        v += '"';
        break;
      }
      case MemberType::integer: {
        std::string& v = attrs.metadata(key, "intValue");
        v += '"';
        v += m.value;
        v += '"';
        break;
      }
      case MemberType::number: attrs.metadata(key, "doubleValue") += m.value; break;
      case MemberType::boolean: attrs.metadata(key, "boolValue") += m.value; break;
      case MemberType::text: append_json_string(attrs.metadata(key, "stringValue"), m.value); break;
    }
    attrs.end();
  });
}

/** trace_hex: the trace id's 32 hex digits, shared by every span of the trace. */
void append_span(std::string& out, const Span& span, std::string_view trace_hex) {
  char ids[128];
  char* d = ids;
  const auto put = [&d](std::string_view text) {
    std::memcpy(d, text.data(), text.size());
    d += text.size();
  };
  put("{\"traceId\":\"");
  put(trace_hex);
  put("\",\"spanId\":\"");
  write_hex16(d, span.span_id);
  d += 16;
  put("\"");
  if (span.parent_id != 0) {
    put(",\"parentSpanId\":\"");
    write_hex16(d, span.parent_id);
    d += 16;
    put("\"");
  }
  put(",\"name\":");
  out.append(ids, static_cast<std::size_t>(d - ids));
  append_json_string(out, span.name);
  // 30 + 19 + 14 bytes of keys and two quoted int64s (at most 22 each): 107.
  char times[128];
  d = times;
  put(",\"kind\":1,\"startTimeUnixNano\":");
  d = write_nanos_string(d, span.started_at_ns);
  if (span.ended()) {
    put(",\"endTimeUnixNano\":");
    d = write_nanos_string(d, span.ended_at_ns);
  }
  put(",\"attributes\":");
  out.append(times, static_cast<std::size_t>(d - times));
  AttributeWriter attrs(out);
  attrs.literal(kind_attributes()[static_cast<std::size_t>(span.kind)]);
  if (!span.run_id.empty()) {
    append_json_string(attrs.literal(TRACECOL_OTLP_ATTR("session.id", "stringValue")), span.run_id);
    attrs.end();
    append_json_string(attrs.literal(TRACECOL_OTLP_ATTR("tracecol.run_id", "stringValue")), span.run_id);
    attrs.end();
  }
  if (!span.inputs.empty() && span.inputs != "{}") {
    append_json_string(attrs.literal(TRACECOL_OTLP_ATTR("input.value", "stringValue")), span.inputs);
    attrs.end();
    attrs.literal(TRACECOL_OTLP_ATTR("input.mime_type", "stringValue") "\"application/json\"}}");
  }
  if (!span.outputs.empty()) {
    append_json_string(attrs.literal(TRACECOL_OTLP_ATTR("output.value", "stringValue")), span.outputs);
    attrs.end();
    attrs.literal(TRACECOL_OTLP_ATTR("output.mime_type", "stringValue") "\"application/json\"}}");
  }
  append_metadata_attributes(attrs, span.metadata);
  if (span.has_peer) {
    // The same names the metadata member would get: "metadata." + peer.pid / peer.uid.
    const auto int_attribute = [&attrs](std::string_view key, std::int64_t value) {
      char buf[24];
      const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
      std::string& v = attrs.metadata(key, "intValue");
      v += '"';
      v.append(buf, static_cast<std::size_t>(end - buf));
      v += '"';
      attrs.end();
    };
    static_assert(peer_pid_key == "peer.pid" && peer_uid_key == "peer.uid");
    int_attribute("peer.pid", span.peer_pid);
    int_attribute("peer.uid", span.peer_uid);
  }
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

#undef TRACECOL_OTLP_ATTR

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
  char trace_hex[32];
  TraceId hexed;
  bool first = true;
  for (const Span& span : trace.spans) {
    if (!first) out += ',';
    // Spans carry their own trace_id (the trace's, once assembled): hex it when it changes.
    if (first || span.trace_id != hexed) {
      hexed = span.trace_id;
      write_hex16(trace_hex, hexed.hi);
      write_hex16(trace_hex + 16, hexed.lo);
    }
    first = false;
    append_span(out, span, std::string_view(trace_hex, 32));
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
