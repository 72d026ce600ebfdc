#pragma once
// Traces out as an OTLP/HTTP JSON ExportTraceServiceRequest (opentelemetry-proto
// collector/trace/v1), following the OTLP JSON encoding: lowerCamelCase keys, ids as
// lowercase hex, 64-bit integers as decimal strings, enums as integers. Span content is
// carried as OpenInference attributes (openinference.span.kind, input.value, ...).
// Pure: no I/O; appends to a caller-owned buffer.

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "protocol/byte_buffer.hpp"
#include "protocol/metadata_members.hpp"
#include "protocol/span.hpp"

namespace tracecol::protocol {

/** OpenInference's span kind for ours: TEAM -> AGENT, CUSTOM -> UNKNOWN (both OTLP encodings). */
std::string_view openinference_kind(SpanKind kind);
/**
 * Whether openinference_kind(kind) names kind alone (AGENT, TOOL, LLM, CHAIN). TEAM and
 * CUSTOM are not: they also get a tracecol.kind attribute, so a receiver (our own
 * /v1/traces among them) can tell them apart. The other kinds don't repeat themselves.
 */
bool openinference_kind_is_exact(SpanKind kind);

/**
 * A metadata member goes out as an attribute of its own name (llm.model_name stays
 * llm.model_name), except a name that an attribute of ours takes (the OpenInference and
 * tracecol ones), one that begins with "metadata." or is empty: that one keeps the
 * prefix "metadata.", which our /v1/traces takes off again. Key: its text, decoded or as
 * a canonical JSON string content (no escape spells a '.' or a letter then).
 */
[[gnu::always_inline]] inline bool metadata_key_needs_prefix(std::string_view key) {
  if (key.empty()) return true;
  switch (key.front()) {
    case 'i': return key == "input.value" || key == "input.mime_type";
    case 'o': return key == "output.value" || key == "output.mime_type" || key == "openinference.span.kind";
    case 's': return key == "session.id";
    case 't': return key == "tracecol.kind" || key == "tracecol.run_id";
    case 'm': return key.starts_with("metadata.");
    default: return false;
  }
}

/**
 * OTLP's SpanKind number for the metadata member "span.kind" our /v1/traces keeps for a
 * span that was not INTERNAL (server, client, producer, consumer; Jaeger's spelling):
 * the encoders send it as the span's kind instead of an attribute. 0 for other values.
 */
inline unsigned otlp_span_kind_number(std::string_view name) {
  if (name == "server") return 2;
  if (name == "client") return 3;
  if (name == "producer") return 4;
  if (name == "consumer") return 5;
  return 0;  // "internal" too: INTERNAL is what every other span says; the member stays an attribute
}
inline constexpr std::string_view span_kind_member = "span.kind";
/** A CUSTOM span's OpenInference kind our four do not name (EMBEDDING, RETRIEVER, ...), kept in metadata. */
inline constexpr std::string_view openinference_kind_member = "openinference.span.kind";

/**
 * A CUSTOM span's OpenInference kind kept in its metadata: the string member's content as
 * written (escapes kept; value empty when there is none). Only CUSTOM spans pay the look.
 */
inline MetadataMember custom_openinference_kind(std::string_view metadata) {
  MetadataMember found;
  if (metadata.find(openinference_kind_member) == std::string_view::npos) return found;
  for_each_metadata_member(metadata, [&](const MetadataMember& m) {
    if (!m.key_escaped && m.type == MemberType::string && m.key == openinference_kind_member && !m.value.empty())
      found = m;
  });
  return found;
}

/**
 * How deep metadata values nest as arrayValue / kvlistValue; deeper containers go as their
 * JSON text in a stringValue. Each level is four levels of OTLP JSON
 * ({"kvlistValue":{"values":[{"key":..,"value":{...), under ten of the request's own:
 * 8 keeps a request within 42 levels, which our own /v1/traces (and its 64-level
 * default --max-depth) takes.
 */
inline constexpr std::size_t otlp_max_value_nesting = 8;

/** The metadata member our /v1/traces keeps a span's OTLP events in. */
inline constexpr std::string_view events_member = "events";

namespace detail {
/** walk_json_value's visitor for events_shape(). */
struct EventsShape {
  int depth = 0;
  bool ok = true;
  std::string_view member;  // the element member being read
  std::size_t elements = 0;
  void begin(bool object) {
    if ((depth == 0 && object) || (depth == 1 && !object) || (depth == 2 && !(object && member == "attributes"))) ok = false;
    if (depth == 1) ++elements;
    ++depth;
  }
  void end(bool) { --depth; }
  void comma() {}
  void member_end() {}
  void key(std::string_view raw, bool escaped) {
    if (depth != 2) return;
    member = escaped ? std::string_view{} : raw;
    if (member != "name" && member != "time_unix_nano" && member != "attributes") ok = false;
  }
  void scalar(const MetadataMember& m) {
    if (depth == 1) ok = false;  // an element that is no object
    if (depth != 2) return;
    if (member == "name") {
      ok = ok && m.type == MemberType::string;
    } else if (member == "time_unix_nano") {
      ok = ok && m.type == MemberType::string && !m.value.empty() && m.value.size() <= 19 &&
           m.value.find_first_not_of("0123456789") == std::string_view::npos;
    } else {
      ok = false;
    }
  }
};
}  // namespace detail

/**
 * Whether an "events" metadata member (an array) is events as our /v1/traces stores them:
 * objects of name (string), time_unix_nano (decimal string) and attributes (object). The
 * encoders send those as the span's events, anything else under that name as an attribute.
 */
inline bool events_shape(std::string_view array) {
  detail::EventsShape shape;
  // An empty list is no events: it stays the attribute it is, and comes back as one.
  return walk_json_value(array, shape) && shape.ok && shape.elements > 0;
}

/**
 * Calls visit(name, time_unix_nano, attributes) for each event of an events_shape() array:
 * name as written (escapes kept), attributes an object's text or empty.
 */
template <typename Visit>
void for_each_event(std::string_view array, Visit&& visit) {
  detail::MemberReader in(array.data(), array.data() + array.size());
  if (!in.eat('[') || in.peek() == ']') return;
  for (;;) {
    std::string_view element;
    if (!in.value(element)) return;
    std::string_view name, time, attributes;
    for_each_metadata_member(element, [&](const MetadataMember& m) {
      if (m.key == "name") name = m.value;
      else if (m.key == "time_unix_nano") time = m.value;
      else if (m.key == "attributes") attributes = m.value;
    });
    visit(name, time, attributes);
    if (!in.eat(',')) return;
  }
}

/**
 * Whether a metadata member is a field of the span rather than an attribute, for both
 * encoders' metadata walk: "span.kind" naming an OTLP kind (its number into *otlp_kind);
 * for a CUSTOM span (custom_kind_written), the "openinference.span.kind" string its kind
 * attribute carries already; "events" as /v1/traces stores them (its text into *events,
 * for the encoder to write as the span's events).
 */
inline bool is_span_field_member(const MetadataMember& m, bool custom_kind_written, unsigned* otlp_kind,
                                 std::string_view* events) {
  if (m.key_escaped) return false;
  if (m.type == MemberType::string) {
    if (m.key == span_kind_member) {
      const unsigned k = otlp_span_kind_number(m.value);
      if (k != 0) *otlp_kind = k;
      return k != 0;
    }
    return custom_kind_written && m.key == openinference_kind_member;
  }
  if (m.type != MemberType::array || m.key != events_member || !events_shape(m.value)) return false;
  *events = m.value;
  return true;
}

/** The instrumentation scope every encoded span is reported under. */
inline constexpr std::string_view otlp_scope_name = "tracecol";
inline constexpr std::string_view otlp_scope_version = "0.1.0";

/**
 * Appends one ExportTraceServiceRequest holding every span of `traces` (in arrival order)
 * under one resource (service.name = service_name) and one scope. Per span: kind is
 * SPAN_KIND_INTERNAL (1), or the one its metadata's "span.kind" names (written after
 * the attributes; that member is not an attribute); status is ERROR (2) with the error message, OK (1) for an ended
 * span without error, omitted (UNSET) while open; endTimeUnixNano is omitted while open.
 * Attributes: openinference.span.kind (TEAM -> AGENT, CUSTOM -> UNKNOWN, or for CUSTOM
 * the metadata's "openinference.span.kind" string, which is then no attribute of its own), tracecol.kind
 * (TEAM and CUSTOM only), session.id (the run_id, when set), input.value /
 * input.mime_type (when inputs is not "{}"), output.value / output.mime_type (when
 * outputs is present), and one attribute per top-level metadata member, named by its key
 * (metadata_key_needs_prefix: "metadata.<key>" where ours would collide): strings as
 * stringValue, integers as intValue, other numbers as doubleValue, booleans as
 * boolValue, arrays as arrayValue, objects as kvlistValue, null as an empty AnyValue.
 * Null pointers in `traces` are skipped. Thread-safe (no shared state).
 */
void append_otlp_request(std::string& out, std::span<const std::shared_ptr<const Trace>> traces,
                         std::string_view service_name);
void append_otlp_request(std::string& out, std::span<const Trace* const> traces, std::string_view service_name);

/**
 * The same request in pieces, for exporters that encode each trace once and batch the
 * bytes later: head, then the span objects of each trace joined by ',' (a trace with no
 * spans appends nothing), then tail. head + spans + tail == append_otlp_request's output.
 */
void append_otlp_request_head(std::string& out, std::string_view service_name);
void append_otlp_spans(std::string& out, const Trace& trace);
void append_otlp_request_tail(std::string& out);
/** The same into a ByteBuffer: the exporter's, which skips zeroing the space each span reserves. */
void append_otlp_request_head(ByteBuffer& out, std::string_view service_name);
void append_otlp_spans(ByteBuffer& out, const Trace& trace);
void append_otlp_request_tail(ByteBuffer& out);

}  // namespace tracecol::protocol
