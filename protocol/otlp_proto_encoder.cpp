#include "protocol/otlp_proto_encoder.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "protocol/json_scanner.hpp"
#include "protocol/metadata_members.hpp"
#include "protocol/otlp_encoder.hpp"

namespace tracecol::protocol {
namespace {

// Wire types (protobuf encoding): the low 3 bits of a field's tag.
constexpr unsigned varint_type = 0;
constexpr unsigned fixed64_type = 1;
constexpr unsigned length_type = 2;

// Field numbers, from opentelemetry-proto (trace/v1/trace.proto, common/v1/common.proto,
// resource/v1/resource.proto, collector/trace/v1/trace_service.proto).
namespace field {
constexpr unsigned request_resource_spans = 1;  // ExportTraceServiceRequest
constexpr unsigned resource = 1;                // ResourceSpans
constexpr unsigned scope_spans = 2;
constexpr unsigned resource_attributes = 1;     // Resource
constexpr unsigned scope = 1;                   // ScopeSpans
constexpr unsigned spans = 2;
constexpr unsigned scope_name = 1;              // InstrumentationScope
constexpr unsigned scope_version = 2;
constexpr unsigned trace_id = 1;                // Span
constexpr unsigned span_id = 2;
constexpr unsigned parent_span_id = 4;
constexpr unsigned name = 5;
constexpr unsigned kind = 6;
constexpr unsigned start_time = 7;
constexpr unsigned end_time = 8;
constexpr unsigned attributes = 9;
constexpr unsigned events = 11;
constexpr unsigned status = 15;
constexpr unsigned status_message = 2;          // Status
constexpr unsigned status_code = 3;
constexpr unsigned key = 1;                     // KeyValue
constexpr unsigned value = 2;
constexpr unsigned string_value = 1;            // AnyValue
constexpr unsigned bool_value = 2;
constexpr unsigned int_value = 3;
constexpr unsigned double_value = 4;
constexpr unsigned array_value = 5;
constexpr unsigned kvlist_value = 6;
constexpr unsigned values = 1;                  // ArrayValue, KeyValueList
constexpr unsigned event_time = 1;              // Span.Event
constexpr unsigned event_name = 2;
constexpr unsigned event_attributes = 3;
constexpr unsigned encoded = 0;                 // not a field: AnyValue::bytes is the AnyValue's content, built already
}  // namespace field

constexpr unsigned span_kind_internal = 1;
constexpr std::uint64_t status_ok = 1;
constexpr std::uint64_t status_error = 2;

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* write_varint(char* d, std::uint64_t v) {
  while (v >= 0x80) {
    *d++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *d++ = static_cast<char>(v);
  return d;
}

/** Tags of the fields used here fit one byte (field numbers below 16). */
constexpr char tag(unsigned field_number, unsigned wire_type) { return static_cast<char>(field_number << 3 | wire_type); }

// Everything below writes through a cursor into space reserved for the worst case:
// a span is ~15 attributes of ~6 pieces each, and an append per piece (a capacity check
// and a call each) cost 4x the bytes' copying.

char* put_bytes(char* d, unsigned field_number, std::string_view bytes) {
  *d++ = tag(field_number, length_type);
  return write_bytes(write_varint(d, bytes.size()), bytes);
}

char* put_fixed64(char* d, unsigned field_number, std::uint64_t v) {
  *d++ = tag(field_number, fixed64_type);
  for (int i = 0; i < 8; ++i) *d++ = static_cast<char>(v >> (8 * i));  // little-endian
  return d;
}

char* put_big_endian(char* d, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    d[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return d + 8;
}

/** An AnyValue, as its encoded bytes are known before writing. */
struct AnyValue {
  unsigned field_number = field::string_value;
  std::string_view bytes;    // string_value: the text
  std::uint64_t number = 0;  // bool_value / int_value: the varint; double_value: the bits
};

std::size_t any_value_size(const AnyValue& v) {
  switch (v.field_number) {
    case field::encoded: return v.bytes.size();
    case field::string_value: return 1 + varint_size(v.bytes.size()) + v.bytes.size();
    case field::double_value: return 1 + 8;
    default: return 1 + varint_size(v.number);
  }
}

/** Bytes an attribute adds besides its key and string value: four tags and four lengths. */
constexpr std::size_t attribute_overhead = 4 * (1 + 10);

/** A KeyValue (key = prefix + key) in the repeated field `field_number`; sizes computed first, nothing moved. */
char* put_attribute(char* d, unsigned field_number, std::string_view prefix, std::string_view key, const AnyValue& v) {
  const std::size_t key_size = prefix.size() + key.size();
  const std::size_t value_size = any_value_size(v);
  *d++ = tag(field_number, length_type);
  d = write_varint(d, 1 + varint_size(key_size) + key_size + 1 + varint_size(value_size) + value_size);
  *d++ = tag(field::key, length_type);
  d = write_varint(d, key_size);
  d = write_bytes(write_bytes(d, prefix), key);
  *d++ = tag(field::value, length_type);
  d = write_varint(d, value_size);
  switch (v.field_number) {
    case field::encoded: return write_bytes(d, v.bytes);
    case field::string_value: return put_bytes(d, field::string_value, v.bytes);
    case field::double_value: return put_fixed64(d, field::double_value, v.number);
    default:
      *d++ = tag(v.field_number, varint_type);
      return write_varint(d, v.number);
  }
}

char* put_string_attribute(char* d, std::string_view key, std::string_view text) {
  return put_attribute(d, field::attributes, {}, key, AnyValue{field::string_value, text, 0});
}

char* put_int_attribute(char* d, std::string_view key, std::int64_t v) {
  return put_attribute(d, field::attributes, metadata_key_needs_prefix(key) ? "metadata." : "", key,
                       AnyValue{field::int_value, {}, static_cast<std::uint64_t>(v)});
}

/** An attribute whose key and text never change, encoded once: a span then copies its bytes. */
std::string encoded_attribute(std::string_view key, std::string_view text) {
  std::string out(attribute_overhead + key.size() + text.size(), '\0');
  out.resize(static_cast<std::size_t>(put_string_attribute(out.data(), key, text) - out.data()));
  return out;
}

/** openinference.span.kind of each SpanKind, and tracecol.kind where that is not exact, encoded together. */
std::string_view kind_attributes(SpanKind kind) {
  static const std::array<std::string, span_kind_count> table = [] {
    std::array<std::string, span_kind_count> t;
    for (std::size_t k = 0; k < span_kind_count; ++k) {
      const auto as_kind = static_cast<SpanKind>(k);
      t[k] = encoded_attribute("openinference.span.kind", openinference_kind(as_kind));
      if (!openinference_kind_is_exact(as_kind)) t[k] += encoded_attribute("tracecol.kind", to_string(as_kind));
    }
    return t;
  }();
  return table[span_kind_index(kind)];
}

/** The text of a metadata string or key: as written when it has no escapes, else decoded into scratch. */
std::string_view text_of(std::string_view raw, bool escaped, std::string& scratch) {
  if (!escaped) return raw;
  scratch.clear();
  JsonScanner::unescape(raw, scratch);
  return scratch;
}

/** A length-delimited field appended to a string (the nested values' rare path). */
void append_field(std::string& out, unsigned field_number, std::string_view bytes) {
  char head[11];
  head[0] = tag(field_number, length_type);
  out.append(head, static_cast<std::size_t>(write_varint(head + 1, bytes.size()) - head));
  out += bytes;
}

/** The content of a scalar's AnyValue (an empty one for null). */
void append_scalar_any_value(std::string& out, const MetadataMember& m, std::string& scratch) {
  char buf[11];
  switch (m.type) {
    case MemberType::string: append_field(out, field::string_value, text_of(m.value, m.value_escaped, scratch)); break;
    case MemberType::text: append_field(out, field::string_value, m.value); break;
    case MemberType::integer:
      buf[0] = tag(field::int_value, varint_type);
      out.append(buf, static_cast<std::size_t>(write_varint(buf + 1, static_cast<std::uint64_t>(m.integer)) - buf));
      break;
    case MemberType::boolean:
      buf[0] = tag(field::bool_value, varint_type);
      buf[1] = m.value == "true" ? 1 : 0;
      out.append(buf, 2);
      break;
    case MemberType::number: {
      double x = 0;
      std::from_chars(m.value.data(), m.value.data() + m.value.size(), x);
      std::uint64_t bits;
      std::memcpy(&bits, &x, sizeof bits);
      out.append(buf, static_cast<std::size_t>(put_fixed64(buf, field::double_value, bits) - buf));
      break;
    }
    case MemberType::null:
    case MemberType::array:  // never: the walk descends into containers
    case MemberType::object: break;
  }
}

/**
 * A metadata array or object as AnyValue content (array_value / kvlist_value), for
 * walk_json_value. Built inside out, in strings: a message's length comes before it.
 */
struct AnyValueBuilder {
  struct Frame {
    bool object;
    std::string content;  // ArrayValue / KeyValueList so far
    std::string key;      // the member whose value comes next
  };
  std::vector<Frame> open;
  std::string result;
  std::string scratch;

  void begin(bool object) { open.push_back(Frame{object, {}, {}}); }
  void key(std::string_view raw, bool escaped) { open.back().key.assign(text_of(raw, escaped, scratch)); }
  void member_end() {}
  void comma() {}
  void scalar(const MetadataMember& m) {
    std::string any;
    append_scalar_any_value(any, m, scratch);
    done(std::move(any));
  }
  void end(bool object) {
    std::string any;
    append_field(any, object ? field::kvlist_value : field::array_value, open.back().content);
    open.pop_back();
    done(std::move(any));
  }
  /** A value is whole: into its container, or the result. */
  void done(std::string&& any) {
    if (open.empty()) {
      result = std::move(any);
      return;
    }
    Frame& f = open.back();
    if (!f.object) return append_field(f.content, field::values, any);
    std::string kv;
    append_field(kv, field::key, f.key);
    append_field(kv, field::value, any);
    append_field(f.content, field::values, kv);
  }
};

/** The AnyValue content of an array or object member, walked as far as otlp_max_value_nesting. */
void append_nested_any_value(std::string& out, const MetadataMember& m) {
  AnyValueBuilder b;
  if (walk_json_value(m.value, b, otlp_max_value_nesting)) out += b.result;  // cut short: an empty value
}

/** The AnyValue content of a metadata-style member, scalar or nested. */
void append_member_any_value(std::string& out, const MetadataMember& m, std::string& scratch) {
  if (m.type == MemberType::array || m.type == MemberType::object) return append_nested_any_value(out, m);
  append_scalar_any_value(out, m, scratch);
}

/** Span.events (field 11) from an events_shape() array, one Event message each. */
char* put_events(char* d, std::string_view events) {
  std::string event, kv, any, scratch, name_scratch;
  for_each_event(events, [&](std::string_view name, std::string_view time, std::string_view attributes) {
    event.clear();
    std::uint64_t nanos = 0;
    std::from_chars(time.data(), time.data() + time.size(), nanos);  // events_shape checked the digits
    char fixed[9];
    event.append(fixed, static_cast<std::size_t>(put_fixed64(fixed, field::event_time, nanos) - fixed));
    append_field(event, field::event_name, text_of(name, name.find('\\') != std::string_view::npos, name_scratch));
    for_each_metadata_member(attributes, [&](const MetadataMember& m) {
      kv.clear();
      any.clear();
      append_field(kv, field::key, text_of(m.key, m.key_escaped, scratch));
      append_member_any_value(any, m, scratch);
      append_field(kv, field::value, any);
      append_field(event, field::event_attributes, kv);
    });
    d = put_bytes(d, field::events, event);
  });
  return d;
}

/**
 * One attribute per metadata member, but those that are fields of the span
 * (is_span_field_member): the kind one names into *otlp_kind, the events' text into *events.
 */
char* put_metadata_attributes(char* d, std::string_view metadata, bool custom, unsigned* otlp_kind,
                              std::string_view* events) {
  std::string key_scratch, value_scratch;
  for_each_metadata_member(metadata, [&](const MetadataMember& m) {
    if (is_span_field_member(m, custom, otlp_kind, events)) return;
    // Decoded text is never longer than as written, and a double's 8 bytes fit in the
    // reserve's per-member allowance (metadata_reserve).
    const std::string_view key = text_of(m.key, m.key_escaped, key_scratch);
    AnyValue v;
    switch (m.type) {
      case MemberType::string: v = {field::string_value, text_of(m.value, m.value_escaped, value_scratch), 0}; break;
      case MemberType::integer: v = {field::int_value, {}, static_cast<std::uint64_t>(m.integer)}; break;
      case MemberType::number: {
        double x = 0;
        std::from_chars(m.value.data(), m.value.data() + m.value.size(), x);
        std::uint64_t bits;
        std::memcpy(&bits, &x, sizeof bits);
        v = {field::double_value, {}, bits};
        break;
      }
      case MemberType::boolean: v = {field::bool_value, {}, m.value == "true" ? 1u : 0u}; break;
      case MemberType::text: v = {field::string_value, m.value, 0}; break;
      case MemberType::null: v = {field::encoded, {}, 0}; break;  // an empty AnyValue
      case MemberType::array:
      case MemberType::object:
        value_scratch.clear();
        append_nested_any_value(value_scratch, m);
        v = {field::encoded, value_scratch, 0};
        break;
    }
    d = put_attribute(d, field::attributes, metadata_key_needs_prefix(key) ? "metadata." : "", key, v);
  });
  return d;
}

/**
 * Room for a span's metadata attributes: their text (decoding never lengthens it) plus,
 * per member, an attribute's overhead, "metadata." and a double's 8 bytes. Each member
 * has a ':' of its own, so counting every ':' bounds the members.
 */
std::size_t metadata_reserve(std::string_view metadata) {
  std::size_t colons = 0;
  for (const char c : metadata) colons += c == ':' ? 1 : 0;
  // A nested array or object (arrayValue / kvlistValue): a tag and a length per value at
  // most, and an int's 10-byte varint, against its text: 16 per metadata byte bounds it.
  return metadata.size() + colons * (attribute_overhead + 9 + 8) + (may_nest(metadata) ? 16 * metadata.size() : 0);
}

/** An upper bound of put_span's output. */
std::size_t span_reserve(const Span& span) {
  // 10 attributes of our own at most (kind x2, run id, input x2, output x2, peer x2), their keys
  // (under 256 bytes together), ids, times and status.
  return 512 + 10 * attribute_overhead + span.name.size() + span.run_id.size() + span.inputs.size() +
         span.outputs.size() + span.error.size() + metadata_reserve(span.metadata);
}

/**
 * Appends a length-delimited field whose content write(d) writes through a cursor, at most
 * `bound` bytes: one resize for the worst case, one shrink after. The length goes in front
 * of the content: `guess` bytes are kept for it, and the content moves only when its varint
 * needs another number of bytes. Past the bound, which every writer here relies on, it
 * stops rather than go on from corrupted memory (unit tests hold spans built to reach it).
 */
template <typename Out, typename Write>
void put_message(Out& out, unsigned field_number, std::size_t bound, std::size_t guess, Write&& write) {
  const std::size_t start = out.size();
  char* const head = extend(out, 1 + 10 + bound);  // a length needs 10 bytes at most
  char* const body = head + 1 + guess;
  const std::size_t length = static_cast<std::size_t>(write(body) - body);
  if (length > bound) std::abort();
  const std::size_t need = varint_size(length);
  if (need != guess) std::memmove(head + 1 + need, body, length);
  head[0] = tag(field_number, length_type);
  write_varint(head + 1, length);
  out.resize(start + 1 + need + length);
}

/** A Span's content at d (at most span_reserve(span) bytes); returns the new end. */
char* put_span(char* d, const Span& span) {
  *d++ = tag(field::trace_id, length_type);
  *d++ = 16;
  d = put_big_endian(d, span.trace_id.hi);
  d = put_big_endian(d, span.trace_id.lo);
  *d++ = tag(field::span_id, length_type);
  *d++ = 8;
  d = put_big_endian(d, span.span_id);
  if (span.parent_id != 0) {
    *d++ = tag(field::parent_span_id, length_type);
    *d++ = 8;
    d = put_big_endian(d, span.parent_id);
  }
  d = put_bytes(d, field::name, span.name);
  d = put_fixed64(d, field::start_time, static_cast<std::uint64_t>(span.started_at_ns));
  if (span.ended()) d = put_fixed64(d, field::end_time, static_cast<std::uint64_t>(span.ended_at_ns));

  const MetadataMember oi_kind =
      span.kind == SpanKind::custom ? custom_openinference_kind(span.metadata) : MetadataMember{};
  std::string oi_scratch;
  if (!oi_kind.value.empty()) {
    // A kind of OpenInference's that ours do not name (EMBEDDING, RETRIEVER, ...): as received.
    d = put_string_attribute(d, "openinference.span.kind", text_of(oi_kind.value, oi_kind.value_escaped, oi_scratch));
    d = put_string_attribute(d, "tracecol.kind", "CUSTOM");
  } else {
    d = write_bytes(d, kind_attributes(span.kind));
  }
  if (!span.run_id.empty()) {
    d = put_string_attribute(d, "session.id", span.run_id);
  }
  static const std::string input_mime = encoded_attribute("input.mime_type", "application/json");
  static const std::string output_mime = encoded_attribute("output.mime_type", "application/json");
  if (!span.inputs.empty() && span.inputs != "{}") {
    d = put_string_attribute(d, "input.value", span.inputs);
    d = write_bytes(d, input_mime);
  }
  if (!span.outputs.empty()) {
    d = put_string_attribute(d, "output.value", span.outputs);
    d = write_bytes(d, output_mime);
  }
  unsigned otlp_kind = span_kind_internal;  // unless the metadata names another (kind members are no attributes)
  std::string_view events;  // OTLP events kept in the metadata: they go out as events again
  d = put_metadata_attributes(d, span.metadata, !oi_kind.value.empty(), &otlp_kind, &events);
  if (span.has_peer) {
    static_assert(peer_pid_key == "peer.pid" && peer_uid_key == "peer.uid");
    d = put_int_attribute(d, "peer.pid", span.peer_pid);
    d = put_int_attribute(d, "peer.uid", span.peer_uid);
  }
  // After the attributes (protobuf fields have no order): the metadata may name another kind.
  *d++ = tag(field::kind, varint_type);
  *d++ = static_cast<char>(otlp_kind);
  if (!events.empty()) d = put_events(d, events);

  if (span.has_error()) {
    *d++ = tag(field::status, length_type);
    d = write_varint(d, 1 + varint_size(span.error.size()) + span.error.size() + 2);
    d = put_bytes(d, field::status_message, span.error);
    *d++ = tag(field::status_code, varint_type);
    *d++ = static_cast<char>(status_error);
  } else if (span.ended()) {
    *d++ = tag(field::status, length_type);
    *d++ = 2;
    *d++ = tag(field::status_code, varint_type);
    *d++ = static_cast<char>(status_ok);
  }

  return d;
}

/**
 * A length-delimited field whose length is known only once its content is appended: the
 * tag and `guess` bytes are reserved, and close() writes the length there, moving the
 * content only when the length's varint needs another number of bytes than guessed.
 */
template <typename Out>
class Nested {
 public:
  Nested(Out& out, unsigned field_number, std::size_t guess) : out_(out), at_(out.size() + 1), guess_(guess) {
    *extend(out_, 1 + guess_) = tag(field_number, length_type);
  }
  void close() {
    const std::size_t length = out_.size() - at_ - guess_;
    const std::size_t need = varint_size(length);
    if (need > guess_) extend(out_, need - guess_);  // before data(): it may move the bytes
    char* const head = out_.data() + at_;
    if (need != guess_) std::memmove(head + need, head + guess_, length);
    if (need < guess_) out_.resize(at_ + need + length);
    write_varint(head, length);
  }

 private:
  Out& out_;
  std::size_t at_;  // where the length goes
  std::size_t guess_;
};

template <typename Out>
void append_resource_spans(Out& out, const Trace& trace, std::string_view service_name) {
  if (trace.spans.empty()) return;
  Nested resource_spans(out, field::request_resource_spans, 3);  // a trace of 16 KiB..2 MiB: 3 bytes
  put_message(out, field::resource, attribute_overhead + 12 + service_name.size(), 1, [&](char* d) {
    return put_attribute(d, field::resource_attributes, {}, "service.name", AnyValue{field::string_value, service_name, 0});
  });
  Nested scope_spans(out, field::scope_spans, 3);
  put_message(out, field::scope, 22 + otlp_scope_name.size() + otlp_scope_version.size(), 1, [](char* d) {
    return put_bytes(put_bytes(d, field::scope_name, otlp_scope_name), field::scope_version, otlp_scope_version);
  });
  for (const Span& span : trace.spans)  // most spans encode to 128 B..16 KiB: a 2-byte length
    put_message(out, field::spans, span_reserve(span), 2, [&span](char* d) { return put_span(d, span); });
  scope_spans.close();
  resource_spans.close();
}

}  // namespace

void append_otlp_proto_resource_spans(std::string& out, const Trace& trace, std::string_view service_name) {
  append_resource_spans(out, trace, service_name);
}

void append_otlp_proto_resource_spans(ByteBuffer& out, const Trace& trace, std::string_view service_name) {
  append_resource_spans(out, trace, service_name);
}

void append_otlp_proto_request(std::string& out, std::span<const Trace* const> traces, std::string_view service_name) {
  for (const Trace* trace : traces)
    if (trace != nullptr) append_otlp_proto_resource_spans(out, *trace, service_name);
}

}  // namespace tracecol::protocol
