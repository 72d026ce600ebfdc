#include "protocol/otlp_encoder.hpp"

#include <array>
#include <charconv>
#include <cstring>

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
const std::array<std::string, 6>& kind_attributes() {
  static const std::array<std::string, 6> all = [] {
    std::array<std::string, 6> t;
    for (int k = 0; k < 6; ++k) {
      const auto kind = static_cast<SpanKind>(k);
      std::string& a = t[static_cast<std::size_t>(k)];
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

/** A JSON integer that fits int64: the only numbers OTLP's intValue can carry. */
bool is_integer_token(std::string_view token) {
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  return ec == std::errc() && ptr == token.data() + token.size();
}

/**
 * A small reader for the metadata object, which the decoders already validated (JSON
 * grammar, UTF-8, depth): it only finds the top-level members, bounds-checked, and stops
 * at anything unexpected. The validating JsonScanner cost 4x as much here (and a heap
 * allocation per span for its scratch deque).
 */
class MemberReader {
 public:
  MemberReader(const char* p, const char* end) : p_(p), end_(end) {}
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool eat(char c) {
    skip_ws();
    if (p_ >= end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  char peek() {
    skip_ws();
    return p_ < end_ ? *p_ : '\0';
  }
  /** At '"': the content as written (escapes kept), and whether it has escapes. */
  bool string(std::string_view& raw, bool& escaped) {
    if (!eat('"')) return false;
    const char* start = p_;
    escaped = false;
    for (;;) {
      // Valid string content holds no raw control byte: the stop is a quote or a backslash.
      p_ += json_escape_position(std::string_view(p_, static_cast<std::size_t>(end_ - p_)));
      if (p_ >= end_ || (*p_ != '"' && *p_ != '\\')) return false;
      if (*p_ == '"') break;
      escaped = true;
      p_ += 2;  // the escaped character; \uXXXX's hex digits hold no quote or backslash
    }
    raw = std::string_view(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return true;
  }
  /** Any value; its text as written. Containers are skipped by bracket depth outside strings. */
  bool value(std::string_view& text) {
    skip_ws();
    const char* start = p_;
    if (p_ >= end_) return false;
    if (*p_ == '"') {
      std::string_view raw;
      bool escaped;
      if (!string(raw, escaped)) return false;
    } else if (*p_ == '{' || *p_ == '[') {
      std::size_t depth = 0;
      do {
        if (p_ >= end_) return false;
        const char c = *p_;
        if (c == '"') {
          std::string_view raw;
          bool escaped;
          if (!string(raw, escaped)) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') --depth;
        ++p_;
      } while (depth > 0);
    } else {
      while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ' ' && *p_ != '\t' && *p_ != '\n' && *p_ != '\r') ++p_;
    }
    text = std::string_view(start, static_cast<std::size_t>(p_ - start));
    return !text.empty();
  }

 private:
  const char* p_;
  const char* end_;
};

/** One attribute per top-level member of the (validated) metadata object. */
void append_metadata_attributes(AttributeWriter& attrs, std::string_view metadata) {
  MemberReader in(metadata.data(), metadata.data() + metadata.size());
  if (!in.eat('{') || in.peek() == '}') return;
  std::string scratch;
  const auto as_json_content = [&scratch](std::string_view raw, bool escaped) {
    // Unescaped content is already what append_json_string would write between the quotes.
    if (!escaped) return raw;
    std::string text;
    JsonScanner::unescape(raw, text);
    scratch.clear();
    append_json_string(scratch, text);
    return std::string_view(scratch).substr(1, scratch.size() - 2);
  };
  std::string key;
  for (;;) {
    std::string_view raw_key;
    bool key_escaped;
    if (!in.string(raw_key, key_escaped) || !in.eat(':')) return;
    key.assign(as_json_content(raw_key, key_escaped));
    std::string_view value;
    if (in.peek() == '"') {
      std::string_view raw;
      bool escaped;
      if (!in.string(raw, escaped)) return;
      std::string& v = attrs.metadata(key, "stringValue");
      v += '"';
      v += as_json_content(raw, escaped);
      v += '"';
      attrs.end();
    } else {
      if (!in.value(value)) return;
      const char c = value.front();
      if (c == '-' || (c >= '0' && c <= '9')) {
        if (is_integer_token(value)) {
          std::string& v = attrs.metadata(key, "intValue");
          v += '"';
          v += value;
          v += '"';
          attrs.end();
        } else if (JsonScanner::fits_double(value)) {
          attrs.metadata(key, "doubleValue") += value;
          attrs.end();
        } else {
          std::string& v = attrs.metadata(key, "stringValue");
          append_json_string(v, value);
          attrs.end();
        }
      } else if (value == "true" || value == "false") {
        attrs.metadata(key, "boolValue") += value;
        attrs.end();
      } else {  // null, objects and arrays: their JSON text as a string
        append_json_string(attrs.metadata(key, "stringValue"), value);
        attrs.end();
      }
    }
    if (!in.eat(',')) return;
  }
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
