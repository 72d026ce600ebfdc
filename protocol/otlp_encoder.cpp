#include "protocol/otlp_encoder.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdlib>
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

bool openinference_kind_is_exact(SpanKind kind) { return kind != SpanKind::team && kind != SpanKind::custom; }

namespace {

/** "00".."99": two decimal digits per lookup. */
constexpr auto decimal_pairs = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[static_cast<std::size_t>(2 * i)] = static_cast<char>('0' + i / 10);
    t[static_cast<std::size_t>(2 * i + 1)] = static_cast<char>('0' + i % 10);
  }
  return t;
}();

/** v < 10^9 as exactly 9 digits (zero-padded) at d, in 32-bit arithmetic. */
void write_9_digits(char* d, std::uint32_t v) {
  d[0] = static_cast<char>('0' + v / 100000000u);
  v %= 100000000u;
  const std::uint32_t high = v / 10000u, low = v % 10000u;
  std::memcpy(d + 1, &decimal_pairs[2 * (high / 100u)], 2);
  std::memcpy(d + 3, &decimal_pairs[2 * (high % 100u)], 2);
  std::memcpy(d + 5, &decimal_pairs[2 * (low / 100u)], 2);
  std::memcpy(d + 7, &decimal_pairs[2 * (low % 100u)], 2);
}

/**
 * ns as a JSON string ("1732500000123456789", as OTLP spells 64-bit integers) at d;
 * returns the new end. Every time since 2001-09-09 has 19 digits: written as 1 + 9 + 9
 * in 32-bit pieces, where to_chars divides 64-bit numbers by 100 nine times (8% of the
 * exporter's sender thread). Anything else goes through to_chars.
 */
char* write_nanos_string(char* d, std::int64_t ns) {
  constexpr std::int64_t nineteen_digits = 1000000000000000000;
  *d++ = '"';
  if (ns >= nineteen_digits) {
    const auto v = static_cast<std::uint64_t>(ns);
    *d++ = static_cast<char>('0' + v / 1000000000000000000u);
    const std::uint64_t rest = v % 1000000000000000000u;
    write_9_digits(d, static_cast<std::uint32_t>(rest / 1000000000u));
    write_9_digits(d + 9, static_cast<std::uint32_t>(rest % 1000000000u));
    d += 18;
  } else {
    d = std::to_chars(d, d + 20, ns).ptr;
  }
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

/**
 * ,{"key":"<key>","value":{"<type>": — the constant head of an attribute, spelled once.
 * Every attribute but the first (the kind attributes, always present) begins with ','.
 */
#define TRACECOL_OTLP_ATTR(key, type) ",{\"key\":\"" key "\",\"value\":{\"" type "\":"

/** The kind attributes of each SpanKind, whole: openinference.span.kind, then tracecol.kind where it is not exact. */
const std::array<std::string, span_kind_count>& kind_attributes() {
  static const std::array<std::string, span_kind_count> all = [] {
    std::array<std::string, span_kind_count> t;
    for (std::size_t k = 0; k < span_kind_count; ++k) {
      const auto kind = static_cast<SpanKind>(k);
      std::string& a = t[k];
      a = std::string_view(TRACECOL_OTLP_ATTR("openinference.span.kind", "stringValue")).substr(1);
      append_json_string(a, openinference_kind(kind));
      a += "}}";
      if (!openinference_kind_is_exact(kind)) {
        a += TRACECOL_OTLP_ATTR("tracecol.kind", "stringValue");
        append_json_string(a, to_string(kind));
        a += "}}";
      }
    }
    return t;
  }();
  return all;
}

/**
 * Room for everything of a span but its strings: ids, times, keys, the kind attributes,
 * mime types, the peer attributes and status add up to about 1,000 bytes.
 */
constexpr std::size_t span_fixed_bound = 2048;
/** Room per metadata member besides its key and value: the head, quotes and "}}" (about 50 bytes). */
constexpr std::size_t metadata_member_bound = 64;

/**
 * The JSON string content write_json_string would write for a string read as written:
 * unescaped content already is it; escaped content is decoded and re-escaped (into
 * scratch) so every escape comes out in one canonical spelling. The span's bound counts
 * the text as read, and the canonical spelling is never longer (every escape is at least
 * as long as its replacement); were it ever longer, the content as read, valid JSON
 * string content too, is written instead.
 */
std::string_view json_content(std::string_view raw, bool escaped, std::string& scratch) {
  if (!escaped) return raw;
  std::string text;
  JsonScanner::unescape(raw, text);
  scratch.clear();
  append_json_string(scratch, text);
  const std::string_view content = std::string_view(scratch).substr(1, scratch.size() - 2);
  return content.size() <= raw.size() ? content : raw;
}

/** ,{"key":"<key>","value":{"<type>": with value_head = "\",\"value\":{\"<type>\":" (metadata_key_needs_prefix). */
template <std::size_t N>
char* metadata_head(char* d, std::string_view key_json, const char (&value_head)[N]) {
  d = write_literal(d, ",{\"key\":\"");
  if (metadata_key_needs_prefix(key_json)) d = write_literal(d, "metadata.");
  d = write_bytes(d, key_json);
  return write_literal(d, value_head);
}

/**
 * A metadata array or object as the AnyValue OTLP nests (arrayValue, kvlistValue), for
 * walk_json_value. Strings and keys are copied as written: valid JSON string content.
 */
struct AnyValueWriter {
  char* d;
  void begin(bool object) {
    d = object ? write_literal(d, "{\"kvlistValue\":{\"values\":[") : write_literal(d, "{\"arrayValue\":{\"values\":[");
  }
  void end(bool) { d = write_literal(d, "]}}"); }
  void comma() { *d++ = ','; }
  void key(std::string_view raw, bool) { d = write_literal(write_bytes(write_literal(d, "{\"key\":\""), raw), "\",\"value\":"); }
  void member_end() { *d++ = '}'; }
  void scalar(const MetadataMember& m) {
    switch (m.type) {
      case MemberType::string: d = write_literal(write_bytes(write_literal(d, "{\"stringValue\":\""), m.value), "\"}"); break;
      case MemberType::integer: d = write_literal(write_bytes(write_literal(d, "{\"intValue\":\""), m.value), "\"}"); break;
      case MemberType::number: d = write_literal(write_bytes(write_literal(d, "{\"doubleValue\":"), m.value), "}"); break;
      case MemberType::boolean: d = write_literal(write_bytes(write_literal(d, "{\"boolValue\":"), m.value), "}"); break;
      case MemberType::text: d = write_literal(write_json_string(write_literal(d, "{\"stringValue\":"), m.value), "}"); break;
      case MemberType::null:
      case MemberType::array:   // never: the walk descends into containers
      case MemberType::object: d = write_literal(d, "{}"); break;
    }
  }
  /** An array or object member's value, walked as far as otlp_max_value_nesting. */
  void container(const MetadataMember& m) {
    char* const start = d;
    // Validated at ingest, so the walk completes; were it cut short, an empty value stands.
    if (!walk_json_value(m.value, *this, otlp_max_value_nesting)) d = write_literal(start, "{}");
  }
};

/** The members of an object as KeyValues ({"key":..,"value":AnyValue} joined by ','): an event's attributes. */
char* put_key_values(char* d, std::string_view object) {
  bool first = true;
  for_each_metadata_member(object, [&](const MetadataMember& m) {
    if (!first) *d++ = ',';
    first = false;
    AnyValueWriter w{write_literal(write_bytes(write_literal(d, "{\"key\":\""), m.key), "\",\"value\":")};
    if (m.type == MemberType::array || m.type == MemberType::object) w.container(m);
    else w.scalar(m);
    d = w.d;
    *d++ = '}';
  });
  return d;
}

/** ,"events":[...] from an events_shape() array (written after the attributes). */
char* put_events(char* d, std::string_view events) {
  d = write_literal(d, ",\"events\":[");
  bool first = true;
  for_each_event(events, [&](std::string_view name, std::string_view time, std::string_view attributes) {
    if (!first) *d++ = ',';
    first = false;
    *d++ = '{';
    if (!time.empty()) d = write_literal(write_bytes(write_literal(d, "\"timeUnixNano\":\""), time), "\",");
    d = write_literal(write_bytes(write_literal(d, "\"name\":\""), name), "\"");
    if (!attributes.empty()) {
      d = write_literal(d, ",\"attributes\":[");
      d = put_key_values(d, attributes);
      *d++ = ']';
    }
    *d++ = '}';
  });
  *d++ = ']';
  return d;
}

/**
 * One attribute per top-level member of the (validated) metadata object, but those that
 * are fields of the span (is_span_field_member): the kind one names into *otlp_kind, the
 * events' text into *events, for put_events.
 */
char* put_metadata_attributes(char* d, std::string_view metadata, bool custom, unsigned* otlp_kind,
                              std::string_view* events) {
  std::string key_scratch, value_scratch;
  for_each_metadata_member(metadata, [&](const MetadataMember& m) {
    if (is_span_field_member(m, custom, otlp_kind, events)) return;
    const std::string_view key = json_content(m.key, m.key_escaped, key_scratch);
    switch (m.type) {
      case MemberType::string:
        d = metadata_head(d, key, "\",\"value\":{\"stringValue\":\"");
        d = write_bytes(d, json_content(m.value, m.value_escaped, value_scratch));
        d = write_literal(d, "\"}}");
        break;
      case MemberType::integer:
        d = metadata_head(d, key, "\",\"value\":{\"intValue\":\"");
        d = write_bytes(d, m.value);
        d = write_literal(d, "\"}}");
        break;
      case MemberType::number:
        d = write_literal(write_bytes(metadata_head(d, key, "\",\"value\":{\"doubleValue\":"), m.value), "}}");
        break;
      case MemberType::boolean:
        d = write_literal(write_bytes(metadata_head(d, key, "\",\"value\":{\"boolValue\":"), m.value), "}}");
        break;
      case MemberType::text:
        d = write_literal(write_json_string(metadata_head(d, key, "\",\"value\":{\"stringValue\":"), m.value), "}}");
        break;
      case MemberType::null: d = write_literal(metadata_head(d, key, "\",\"value\":{}"), "}"); break;
      case MemberType::array:
      case MemberType::object: {
        AnyValueWriter w{metadata_head(d, key, "\",\"value\":")};
        w.container(m);
        d = write_literal(w.d, "}");
        break;
      }
    }
  });
  return d;
}

/**
 * Room for the metadata attributes: every key and value is a piece of the object's text,
 * copied as written or escaped (so within the text's json_string_bound), plus a head per
 * member. Every member's key brings two quotes, each of which the bound already counted
 * as one extra byte, so the bound's extra bytes over the text are at least twice the
 * members: no second pass to count them. A nested array or object becomes arrayValue /
 * kvlistValue, at most 15 bytes per byte of its text ("[0]" is 45): 16 per metadata
 * byte then, paid only by metadata holding one (two memchr to tell).
 */
std::size_t metadata_bound(std::string_view metadata) {
  const std::size_t text = json_string_bound(metadata);
  const std::size_t members = (text - 2 - metadata.size()) / 2;
  return text + members * metadata_member_bound + (may_nest(metadata) ? 16 * metadata.size() : 0);
}

/** An upper bound of put_span's output. */
std::size_t span_bound(const Span& span) {
  return span_fixed_bound + json_string_bound(span.name) + json_string_bound(span.run_id) +
         json_string_bound(span.inputs) + json_string_bound(span.outputs) + json_string_bound(span.error) +
         metadata_bound(span.metadata);
}

/** An intValue attribute for a number known here (the peer's pid and uid), named as a metadata member. */
char* put_int_attribute(char* d, std::string_view key, std::int64_t value) {
  d = metadata_head(d, key, "\",\"value\":{\"intValue\":\"");
  d = std::to_chars(d, d + 20, value).ptr;
  return write_literal(d, "\"}}");
}

/** The span object at d (room: span_bound(span)); trace_hex: the trace id's 32 hex digits. */
char* put_span(char* d, const Span& span, const char (&trace_hex)[32]) {
  d = write_literal(d, "{\"traceId\":\"");
  std::memcpy(d, trace_hex, sizeof trace_hex);
  d += sizeof trace_hex;
  d = write_literal(d, "\",\"spanId\":\"");
  write_hex16(d, span.span_id);
  d += 16;
  *d++ = '"';
  if (span.parent_id != 0) {
    d = write_literal(d, ",\"parentSpanId\":\"");
    write_hex16(d, span.parent_id);
    d += 16;
    *d++ = '"';
  }
  d = write_json_string(write_literal(d, ",\"name\":"), span.name);
  d = write_literal(d, ",\"startTimeUnixNano\":");
  d = write_nanos_string(d, span.started_at_ns);
  if (span.ended()) d = write_nanos_string(write_literal(d, ",\"endTimeUnixNano\":"), span.ended_at_ns);
  d = write_literal(d, ",\"attributes\":[");
  const bool custom = span.kind == SpanKind::custom;
  const std::string_view oi_kind = custom ? custom_openinference_kind(span.metadata).value : std::string_view{};
  if (!oi_kind.empty()) {
    // A kind of OpenInference's that ours do not name (EMBEDDING, RETRIEVER, ...): as received.
    d = write_literal(d, "{\"key\":\"openinference.span.kind\",\"value\":{\"stringValue\":\"");
    d = write_literal(write_bytes(d, oi_kind), "\"}}" TRACECOL_OTLP_ATTR("tracecol.kind", "stringValue") "\"CUSTOM\"}}");
  } else {
    d = write_bytes(d, kind_attributes()[span_kind_index(span.kind)]);
  }
  if (!span.run_id.empty()) {
    d = write_json_string(write_literal(d, TRACECOL_OTLP_ATTR("session.id", "stringValue")), span.run_id);
    d = write_literal(d, "}}");
  }
  if (!span.inputs.empty() && span.inputs != "{}") {
    d = write_json_string(write_literal(d, TRACECOL_OTLP_ATTR("input.value", "stringValue")), span.inputs);
    d = write_literal(d, "}}" TRACECOL_OTLP_ATTR("input.mime_type", "stringValue") "\"application/json\"}}");
  }
  if (!span.outputs.empty()) {
    d = write_json_string(write_literal(d, TRACECOL_OTLP_ATTR("output.value", "stringValue")), span.outputs);
    d = write_literal(d, "}}" TRACECOL_OTLP_ATTR("output.mime_type", "stringValue") "\"application/json\"}}");
  }
  unsigned otlp_kind = 1;  // INTERNAL, unless the metadata names another (kind members are no attributes)
  std::string_view events;  // OTLP events kept in the metadata: they go out as events again
  d = put_metadata_attributes(d, span.metadata, !oi_kind.empty(), &otlp_kind, &events);
  if (span.has_peer) {
    // The names the metadata member has (peer.pid / peer.uid).
    static_assert(peer_pid_key == "peer.pid" && peer_uid_key == "peer.uid");
    d = put_int_attribute(d, "peer.pid", span.peer_pid);
    d = put_int_attribute(d, "peer.uid", span.peer_uid);
  }
  *d++ = ']';
  // After the attributes (JSON members have no order): the metadata may name another kind.
  d = write_literal(d, ",\"kind\":");
  *d++ = static_cast<char>('0' + otlp_kind);
  if (!events.empty()) d = put_events(d, events);
  if (span.has_error()) {
    d = write_json_string(write_literal(d, ",\"status\":{\"code\":2,\"message\":"), span.error);
    *d++ = '}';
  } else if (span.ended()) {
    d = write_literal(d, ",\"status\":{\"code\":1}");
  }
  *d++ = '}';
  return d;
}

#undef TRACECOL_OTLP_ATTR

/**
 * Appends what write(d) writes through a cursor, at most `bound` bytes: one resize for the
 * worst case, one shrink after. Past the bound, which every writer here relies on, it
 * stops rather than go on from corrupted memory (unit tests hold spans built to reach it).
 */
template <typename Out, typename Write>
void append_bounded(Out& out, std::size_t bound, Write&& write) {
  char* const start = extend(out, bound);
  char* const end = write(start);
  if (static_cast<std::size_t>(end - start) > bound) std::abort();
  out.resize(static_cast<std::size_t>(end - out.data()));
}

template <typename Out>
void append_head(Out& out, std::string_view service_name) {
  static constexpr char resource[] =
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":";
  static constexpr char scope[] = "}}]},\"scopeSpans\":[{\"scope\":{\"name\":";
  static constexpr char version[] = ",\"version\":";
  static constexpr char spans[] = "},\"spans\":[";
  const std::size_t bound = sizeof resource + sizeof scope + sizeof version + sizeof spans +
                            json_string_bound(service_name) + json_string_bound(otlp_scope_name) +
                            json_string_bound(otlp_scope_version);
  append_bounded(out, bound, [&](char* d) {
    d = write_json_string(write_literal(d, resource), service_name);
    d = write_json_string(write_literal(d, scope), otlp_scope_name);
    d = write_json_string(write_literal(d, version), otlp_scope_version);
    return write_literal(d, spans);
  });
}

template <typename Out>
void append_spans(Out& out, const Trace& trace) {
  char trace_hex[32];
  TraceId hexed;
  bool first = true;
  for (const Span& span : trace.spans) {
    // Spans carry their own trace_id (the trace's, once assembled): hex it when it changes.
    if (first || span.trace_id != hexed) {
      hexed = span.trace_id;
      write_hex16(trace_hex, hexed.hi);
      write_hex16(trace_hex + 16, hexed.lo);
    }
    append_bounded(out, 1 + span_bound(span), [&](char* d) {
      if (!first) *d++ = ',';
      return put_span(d, span, trace_hex);
    });
    first = false;
  }
}

template <typename Out>
void append_tail(Out& out) {
  write_literal(extend(out, 6), "]}]}]}");
}

template <typename Traces>
void append_request(std::string& out, const Traces& traces, std::string_view service_name) {
  append_head(out, service_name);
  bool first = true;
  for (const auto& trace : traces) {
    if (trace == nullptr || trace->spans.empty()) continue;
    if (!first) out += ',';
    first = false;
    append_spans(out, *trace);
  }
  append_tail(out);
}

}  // namespace

void append_otlp_request_head(std::string& out, std::string_view service_name) { append_head(out, service_name); }
void append_otlp_request_head(ByteBuffer& out, std::string_view service_name) { append_head(out, service_name); }
void append_otlp_spans(std::string& out, const Trace& trace) { append_spans(out, trace); }
void append_otlp_spans(ByteBuffer& out, const Trace& trace) { append_spans(out, trace); }
void append_otlp_request_tail(std::string& out) { append_tail(out); }
void append_otlp_request_tail(ByteBuffer& out) { append_tail(out); }

void append_otlp_request(std::string& out, std::span<const std::shared_ptr<const Trace>> traces,
                         std::string_view service_name) {
  append_request(out, traces, service_name);
}

void append_otlp_request(std::string& out, std::span<const Trace* const> traces, std::string_view service_name) {
  append_request(out, traces, service_name);
}

}  // namespace tracecol::protocol
