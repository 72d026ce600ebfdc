#include "protocol/otlp_decoder.hpp"

#include "protocol/otlp_encoder.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <optional>
#include <unordered_set>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "protocol/encoder.hpp"
#include "protocol/json_scanner.hpp"
#include "protocol/wire_time.hpp"

namespace tracecol::protocol {
namespace {

using Value = rapidjson::Value;
// The body is validated by JsonScanner first (UTF-8, surrogates, depth, duplicates);
// these flags keep RapidJSON 1.1.0 off its crashing paths anyway (STYLE.md traps).
constexpr unsigned parse_flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
constexpr std::size_t depth_ceiling = 1024;  // AnyValue conversion recurses once per level

std::string_view text(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

/**
 * The OTLP JSON keys that have a snake_case twin: protojson (the OpenTelemetry
 * Collector's reader) takes the proto field names too, and some writers send them
 * (Python's MessageToJson with preserving_proto_field_name).
 */
constexpr std::pair<std::string_view, std::string_view> proto_field_names[] = {
    {"resourceSpans", "resource_spans"},   {"scopeSpans", "scope_spans"},
    {"traceId", "trace_id"},               {"spanId", "span_id"},
    {"parentSpanId", "parent_span_id"},    {"startTimeUnixNano", "start_time_unix_nano"},
    {"endTimeUnixNano", "end_time_unix_nano"}, {"timeUnixNano", "time_unix_nano"},
    {"stringValue", "string_value"},       {"boolValue", "bool_value"},
    {"intValue", "int_value"},             {"doubleValue", "double_value"},
    {"arrayValue", "array_value"},         {"kvlistValue", "kvlist_value"},
    {"bytesValue", "bytes_value"}};

/** The lowerCamelCase name of a key sent by its proto field name (or the key itself). */
std::string_view camel_name(std::string_view key) {
  if (key.find('_') == std::string_view::npos) return key;
  for (const auto& [camel, snake] : proto_field_names)
    if (key == snake) return camel;
  return key;
}

const Value* find(const Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  if (it != obj.MemberEnd()) return &it->value;
  // Absent in lowerCamelCase: the proto field name, when the key has one.
  const std::string_view wanted(key);
  for (const auto& [camel, snake] : proto_field_names) {
    if (camel != wanted) continue;
    const Value name(rapidjson::StringRef(snake.data(), static_cast<rapidjson::SizeType>(snake.size())));
    it = obj.FindMember(name);
    return it == obj.MemberEnd() ? nullptr : &it->value;
  }
  return nullptr;
}

/** A string member (numbers count: with numbers kept as strings RapidJSON cannot tell them apart). */
std::optional<std::string_view> string_of(const Value& obj, const char* key) {
  const Value* v = find(obj, key);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return text(*v);
}

bool is_json_number(std::string_view t) {
  if (t.empty() || !(t[0] == '-' || (t[0] >= '0' && t[0] <= '9'))) return false;
  JsonScanner scan;
  scan.reset(t.data(), t.data() + t.size(), 1);
  const char* p = scan.begin();
  std::string_view token;
  return scan.scan_number(p, token) && p == scan.end();
}

bool parse_int64(std::string_view t, std::int64_t& out) {
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return !t.empty() && ec == std::errc() && ptr == t.data() + t.size();
}

/** Standard or URL-safe base64 (padding optional) into bytes; false on anything else. */
bool base64_decode(std::string_view in, std::string& out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return true;
}

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::uint64_t be64(const std::string& b, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

std::optional<TraceId> otlp_trace_id(std::string_view s) {
  if (s.size() == 32 && all_hex(s)) return parse_trace_id(s);
  std::string bytes;
  if (!base64_decode(s, bytes) || bytes.size() != 16) return std::nullopt;
  TraceId id{be64(bytes, 0), be64(bytes, 8)};
  return id ? std::optional<TraceId>(id) : std::nullopt;
}

std::optional<SpanId> otlp_span_id(std::string_view s) {
  if (s.size() == 16 && all_hex(s)) return parse_span_id(s);
  std::string bytes;
  if (!base64_decode(s, bytes) || bytes.size() != 8) return std::nullopt;
  const SpanId id = be64(bytes, 0);
  return id != 0 ? std::optional<SpanId>(id) : std::nullopt;
}

/** Builds a JSON object member by member; a repeated key keeps its first value. */
class ObjectBuilder {
 public:
  ObjectBuilder() : out_("{") {}
  /** Returns the buffer to append the value to, or nullptr when key was already added. */
  std::string* add(std::string_view key) {
    if (!keys_.emplace(key).second) return nullptr;
    if (out_.size() > 1) out_ += ',';
    append_json_string(out_, key);
    out_ += ':';
    return &out_;
  }
  std::string finish() { return std::move(out_) + '}'; }

 private:
  std::string out_;
  std::unordered_set<std::string> keys_;
};

bool append_any_value(std::string& out, const Value& any);

/** [{"key":..,"value":AnyValue}] into b; false on a malformed entry. */
bool append_key_values(ObjectBuilder& b, const Value& list) {
  if (!list.IsArray()) return false;
  for (const Value& kv : list.GetArray()) {
    const auto key = string_of(kv, "key");
    if (!key) return false;
    const Value* value = find(kv, "value");
    std::string json;
    if (value == nullptr) json = "null";
    else if (!append_any_value(json, *value)) return false;
    if (std::string* dst = b.add(*key)) *dst += json;
  }
  return true;
}

/** An OTLP AnyValue as plain JSON. Depth is bounded: the body passed the scanner's cap. */
bool append_any_value(std::string& out, const Value& any) {
  if (!any.IsObject()) return false;
  if (any.MemberCount() == 0) return out += "null", true;
  const auto& m = *any.MemberBegin();
  const std::string_view type = camel_name(text(m.name));
  const Value& v = m.value;
  // OTLP JSON's null is the field's default: the JS SDK's NaN and Infinity come as
  // doubleValue null (JSON.stringify); any type's null is our null.
  if (v.IsNull()) return out += "null", true;
  if (type == "stringValue" || type == "bytesValue") {
    if (!v.IsString()) return false;
    append_json_string(out, text(v));
  } else if (type == "boolValue") {
    if (!v.IsBool()) return false;
    out += v.GetBool() ? "true" : "false";
  } else if (type == "intValue") {
    std::int64_t i = 0;
    if (!v.IsString()) return false;
    if (parse_int64(text(v), i)) {
      out += std::to_string(i);
    } else if (is_json_number(text(v)) && JsonScanner::fits_double(text(v))) {
      out += text(v);  // the JS SDK writes integers past 1e21 as 1e+21: kept as the number it is
    } else {
      return false;
    }
  } else if (type == "doubleValue") {
    if (!v.IsString()) return false;
    const std::string_view t = text(v);
    if (is_json_number(t) && JsonScanner::fits_double(t)) out += t;
    else if (is_json_number(t) || t == "NaN" || t == "Infinity" || t == "-Infinity") append_json_string(out, t);
    else return false;
  } else if (type == "arrayValue") {
    const Value* values = find(v, "values");
    if (!v.IsObject() || (values != nullptr && !values->IsArray())) return false;
    out += '[';
    if (values != nullptr) {
      bool first = true;
      for (const Value& item : values->GetArray()) {
        if (!first) out += ',';
        first = false;
        if (!append_any_value(out, item)) return false;
      }
    }
    out += ']';
  } else if (type == "kvlistValue") {
    const Value* values = find(v, "values");
    if (!v.IsObject()) return false;
    ObjectBuilder b;
    if (values != nullptr && !append_key_values(b, *values)) return false;
    out += b.finish();
  } else {
    return false;
  }
  return true;
}

/**
 * Forwards a parse to a Document, except that each number's text goes into `numbers` and
 * its value points there (a const string, not a copy). With numbers kept as strings
 * RapidJSON cannot tell 5 from "5"; a value pointing into `numbers` was a number.
 */
struct NumberMarkingHandler {
  rapidjson::Document& doc;
  std::string& numbers;  // reserved by the caller: it must never reallocate
  using SizeType = rapidjson::SizeType;

  bool RawNumber(const char* str, SizeType length, bool) {
    if (numbers.size() + length + 1 > numbers.capacity()) return false;
    const char* at = numbers.data() + numbers.size();
    numbers.append(str, length);
    numbers += '\0';
    return doc.String(at, length, false);
  }
  bool Null() { return doc.Null(); }
  bool Bool(bool b) { return doc.Bool(b); }
  // Numbers all arrive as RawNumber (kParseNumbersAsStringsFlag); these complete the concept.
  bool Int(int i) { return doc.Int(i); }
  bool Uint(unsigned i) { return doc.Uint(i); }
  bool Int64(std::int64_t i) { return doc.Int64(i); }
  bool Uint64(std::uint64_t i) { return doc.Uint64(i); }
  bool Double(double d) { return doc.Double(d); }
  bool String(const char* str, SizeType length, bool copy) { return doc.String(str, length, copy); }
  bool StartObject() { return doc.StartObject(); }
  bool Key(const char* str, SizeType length, bool copy) { return doc.Key(str, length, copy); }
  bool EndObject(SizeType members) { return doc.EndObject(members); }
  bool StartArray() { return doc.StartArray(); }
  bool EndArray(SizeType elements) { return doc.EndArray(elements); }
};

struct Context {
  const DecodeOptions& options;
  std::vector<std::string> redact_keys;  // lowercased
  std::optional<std::string> service_name;
  std::string_view numbers;  // the NumberMarkingHandler's texts

  /** True when v was a JSON number in the body (a string whose text looks like one is not). */
  bool is_number(const Value& v) const {
    const std::less<const char*> before;
    return v.IsString() && !before(v.GetString(), numbers.data()) &&
           before(v.GetString(), numbers.data() + numbers.size());
  }
};

/**
 * Copies validated JSON without the whitespace between tokens: a value an SDK
 * pretty-printed ("{\n  \"q\": 1\n}") must not put a line break into an NDJSON line
 * or an SSE data field. Whitespace inside strings is kept (raw controls cannot occur
 * there in valid JSON).
 */
void drop_whitespace(std::string_view json, std::string& out) {
  out.clear();
  out.reserve(json.size());
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\') out += json[++i];
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      out += c;
    }
  }
}

/** Validates text as a JSON object (or null when allow_null) fit to store, redacting it. */
bool store_json(const Context& ctx, std::string_view json, std::string& out, bool allow_null) {
  JsonScanner scan;
  scan.reset(json.data(), json.data() + json.size(), std::min(ctx.options.max_depth, depth_ceiling));
  const char* p = scan.begin();
  scan.skip_ws(p);
  if (p >= scan.end() || !(*p == '{' || (allow_null && *p == 'n'))) return false;
  const char* start = p;
  if (!scan.skip_value(p, 0, ctx.redact_keys.empty() ? nullptr : &ctx.redact_keys, true)) return false;
  const char* stop = p;
  scan.skip_ws(p);
  if (p != scan.end()) return false;
  std::string spliced;
  std::size_t from = static_cast<std::size_t>(start - scan.begin());
  for (const auto& [cut_begin, cut_end] : scan.redactions()) {
    spliced.append(scan.begin() + from, cut_begin - from);
    spliced += "\"[REDACTED]\"";
    from = cut_end;
  }
  spliced.append(scan.begin() + from, static_cast<std::size_t>(stop - scan.begin()) - from);
  drop_whitespace(spliced, out);
  return true;
}

/** input.value / output.value: JSON kept as is when declared and valid, else {"value": text}. */
bool content(const Context& ctx, std::string_view value, std::string_view mime, std::string& out, bool allow_null) {
  if (mime.substr(0, 16) == "application/json" && store_json(ctx, value, out, allow_null)) return true;
  std::string wrapped = "{\"value\":";
  append_json_string(wrapped, value);
  wrapped += '}';
  return store_json(ctx, wrapped, out, false);
}

/** a == b, ASCII letters in either case. */
bool equals_ascii_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'a' && a[i] <= 'z' ? static_cast<char>(a[i] - 32) : a[i];
    const char y = b[i] >= 'a' && b[i] <= 'z' ? static_cast<char>(b[i] - 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

bool parse_nanos(const Value* v, std::int64_t& ns) { return v != nullptr && v->IsString() && parse_wire_nanos(text(*v), ns); }

/** One OTLP span; on false, error says why. */
bool decode_span(const Context& ctx, const Value& s, Span& span, std::string& error) {
  if (!s.IsObject()) return error = "span is not an object", false;
  const auto trace_hex = string_of(s, "traceId");
  const auto trace_id = trace_hex ? otlp_trace_id(*trace_hex) : std::nullopt;
  if (!trace_id) return error = trace_hex ? "bad traceId" : "missing traceId", false;
  span.trace_id = *trace_id;
  const auto span_hex = string_of(s, "spanId");
  const auto span_id = span_hex ? otlp_span_id(*span_hex) : std::nullopt;
  if (!span_id) return error = span_hex ? "bad spanId" : "missing spanId", false;
  span.span_id = *span_id;
  if (const Value* parent = find(s, "parentSpanId"); parent != nullptr && !(parent->IsString() && parent->GetStringLength() == 0)) {
    const auto pid = parent->IsString() ? otlp_span_id(text(*parent)) : std::nullopt;
    if (!pid) return error = "bad parentSpanId", false;
    span.parent_id = *pid;
    span.fields |= field_parent_id;
  }
  if (!parse_nanos(find(s, "startTimeUnixNano"), span.started_at_ns))
    return error = "missing or bad startTimeUnixNano", false;
  span.fields |= field_started_at;
  if (const Value* end = find(s, "endTimeUnixNano"); end != nullptr && !(end->IsString() && text(*end) == "0")) {
    if (!parse_nanos(end, span.ended_at_ns) || span.ended_at_ns < span.started_at_ns)
      return error = "bad endTimeUnixNano", false;
    span.fields |= field_ended_at;
  }
  if (const Value* name = find(s, "name")) {
    // OTLP's name is a string: 5 is refused like null, never stored as "5".
    if (!name->IsString() || ctx.is_number(*name)) return error = "name is not a string", false;
    span.name.assign(text(*name));
    span.fields |= field_name;
  }
  // Attributes: the OpenInference ones map onto the span, the rest go to metadata.
  ObjectBuilder meta;
  std::optional<std::string_view> oi_kind, tc_kind, input, input_mime, output, output_mime, session, run_id;
  if (const Value* attrs = find(s, "attributes")) {
    if (!attrs->IsArray()) return error = "attributes is not an array", false;
    for (const Value& kv : attrs->GetArray()) {
      const auto key = string_of(kv, "key");
      const Value* value = find(kv, "value");
      if (!key) return error = "attribute without a string key", false;
      if (const auto sv = value != nullptr ? string_of(*value, "stringValue") : std::nullopt) {
        const std::pair<std::string_view, std::optional<std::string_view>*> known[] = {
            {"openinference.span.kind", &oi_kind}, {"tracecol.kind", &tc_kind}, {"input.value", &input},
            {"input.mime_type", &input_mime},      {"output.value", &output},   {"output.mime_type", &output_mime},
            {"session.id", &session},              {"tracecol.run_id", &run_id}};
        auto hit = std::find_if(std::begin(known), std::end(known), [&](const auto& k) { return k.first == *key; });
        if (hit != std::end(known)) {
          if (!*hit->second) *hit->second = *sv;
          continue;
        }
      }
      std::string json;
      if (value == nullptr) json = "null";
      else if (!append_any_value(json, *value)) return error = "bad value of attribute " + std::string(*key), false;
      std::string_view k = *key;
      // Ours: the prefix a colliding (or empty) metadata key went out with.
      if (k.substr(0, 9) == "metadata.") k.remove_prefix(9);
      if (std::string* dst = meta.add(k)) *dst += json;
    }
  }
  span.kind = SpanKind::custom;
  // OpenInference's kinds that are ours, in any case ("llm" too); the others (EMBEDDING,
  // RETRIEVER, RERANKER, GUARDRAIL, ...) stay in metadata, and go out again as received.
  std::optional<SpanKind> oi_exact;
  for (const SpanKind k : {SpanKind::agent, SpanKind::tool, SpanKind::llm, SpanKind::chain})
    if (oi_kind && equals_ascii_nocase(*oi_kind, to_string(k))) oi_exact = k;
  if (const auto k = tc_kind ? parse_span_kind(*tc_kind) : std::nullopt) span.kind = *k;
  else if (oi_exact) span.kind = *oi_exact;
  if (tc_kind || oi_kind) span.fields |= field_kind;
  // A CUSTOM span (tracecol.kind) whose OpenInference kind is any but UNKNOWN had it in
  // its metadata when it went out: it comes back there, exact kinds included.
  const bool custom = span.kind == SpanKind::custom && tc_kind.has_value();
  if (oi_kind && (!oi_exact || custom) && !oi_kind->empty() && *oi_kind != "UNKNOWN") {
    if (std::string* dst = meta.add(openinference_kind_member)) append_json_string(*dst, *oi_kind);
  }
  // OTLP's own kind, when not INTERNAL: kept as metadata "span.kind" (Jaeger's spelling),
  // which the encoders send back as the kind.
  if (const Value* k = find(s, "kind"); k != nullptr && k->IsString()) {
    // SPAN_KIND_SERVER .. SPAN_KIND_CONSUMER are 2 .. 5, as a number or by name.
    static constexpr std::string_view names[] = {"server", "client", "producer", "consumer"};
    static constexpr std::string_view enums[] = {"SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER",
                                                 "SPAN_KIND_CONSUMER"};
    const std::string_view kind = text(*k);
    std::size_t number = 0;
    if (ctx.is_number(*k)) {
      const auto [end, ec] = std::from_chars(kind.data(), kind.data() + kind.size(), number);
      if (ec != std::errc() || end != kind.data() + kind.size()) number = 0;  // 2.0, 2e0: no kind of ours
    } else number = static_cast<std::size_t>(std::find(std::begin(enums), std::end(enums), kind) - std::begin(enums)) + 2;
    if (number >= 2 && number <= 5) {
      if (std::string* dst = meta.add(span_kind_member)) append_json_string(*dst, names[number - 2]);
    }
  }
  if (run_id || session) {
    span.run_id.assign(run_id ? *run_id : *session);
    span.fields |= field_run_id;
  }
  if (input && ctx.options.include_inputs) {
    if (!content(ctx, *input, input_mime.value_or(""), span.inputs, false)) return error = "bad input.value", false;
    span.fields |= field_inputs;
  }
  if (output && ctx.options.include_outputs) {
    if (!content(ctx, *output, output_mime.value_or(""), span.outputs, true)) return error = "bad output.value", false;
    span.fields |= field_outputs;
  }
  if (const Value* status = find(s, "status")) {
    const auto code = string_of(*status, "code");
    if (code && (*code == "2" || *code == "STATUS_CODE_ERROR")) {
      const auto message = string_of(*status, "message");
      span.error.assign(message && !message->empty() ? *message : "error");
      span.fields |= field_error;
    }
  }
  if (const Value* events = find(s, "events"); events != nullptr && !(events->IsArray() && events->Empty())) {
    // The JS SDK sends "events": [] on every span: no events, no metadata member.
    if (!events->IsArray()) return error = "events is not an array", false;
    std::string list = "[";
    for (const Value& e : events->GetArray()) {
      ObjectBuilder event;
      if (const auto name = string_of(e, "name")) append_json_string(*event.add("name"), *name);
      if (const auto time = string_of(e, "timeUnixNano")) append_json_string(*event.add("time_unix_nano"), *time);
      if (const Value* ea = find(e, "attributes")) {
        ObjectBuilder attrs;
        if (!append_key_values(attrs, *ea)) return error = "bad event attributes", false;
        *event.add("attributes") += attrs.finish();
      }
      if (list.size() > 1) list += ',';
      list += event.finish();
    }
    if (std::string* dst = meta.add("events")) *dst += list + ']';
  }
  if (ctx.service_name) {
    if (std::string* dst = meta.add("service.name")) append_json_string(*dst, *ctx.service_name);
  }
  if (!store_json(ctx, meta.finish(), span.metadata, false)) return error = "metadata too deep", false;
  span.fields |= field_metadata;
  return true;
}

}  // namespace

OtlpDecodeResult decode_otlp_request(std::string_view json, const DecodeOptions& options) {
  OtlpDecodeResult result;
  auto body_error = [&](std::string why) {
    result.ok = false;
    result.spans.clear();
    result.rejected = 0;
    result.first_error = std::move(why);
    return std::move(result);
  };
  JsonScanner scan;
  scan.reset(json.data(), json.data() + json.size(), std::min(options.max_depth, depth_ceiling));
  const char* p = scan.begin();
  scan.skip_ws(p);
  if (p >= scan.end() || *p != '{') return body_error("body is not a JSON object");
  // kept: every number must fit a double (exponent within +-308), else RapidJSON 1.1.0
  // refuses the body anyway (kParseErrorNumberTooBig), even with numbers kept as strings.
  if (!scan.skip_value(p, 0, nullptr, true)) {
    if (scan.reason() == RejectReason::bad_field)
      return body_error("number out of double range at byte " + std::to_string(scan.offset()));
    return body_error(std::string(to_string(scan.reason())) + " at byte " + std::to_string(scan.offset()));
  }
  scan.skip_ws(p);
  if (p != scan.end()) return body_error("trailing bytes after the JSON object");

  // Every number is followed by a delimiter, so the texts with a NUL each fit the body's size.
  std::string numbers;
  numbers.reserve(json.size() + 1);
  rapidjson::Document doc;  // after `numbers`: its number values point there
  bool parsed = false;
  auto parse = [&](rapidjson::Document& d) {
    rapidjson::MemoryStream bytes(json.data(), json.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
    NumberMarkingHandler handler{d, numbers};
    rapidjson::Reader reader;
    parsed = !reader.Parse<parse_flags>(in, handler).IsError();
    return parsed;
  };
  doc.Populate(parse);
  if (!parsed || !doc.IsObject()) return body_error("invalid_json");

  Context ctx{options, {}, std::nullopt, numbers};
  for (const auto& k : options.redact_keys) {
    std::string lower(k);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    ctx.redact_keys.push_back(std::move(lower));
  }
  const Value* resource_spans = find(doc, "resourceSpans");
  if (resource_spans == nullptr) return result;  // an empty request is valid
  if (!resource_spans->IsArray()) return body_error("resourceSpans is not an array");
  std::size_t index = 0;
  for (const Value& rs : resource_spans->GetArray()) {
    if (!rs.IsObject()) return body_error("resourceSpans entry is not an object");
    ctx.service_name.reset();
    const Value* resource = find(rs, "resource");
    if (const Value* attrs = resource != nullptr ? find(*resource, "attributes") : nullptr; attrs && attrs->IsArray()) {
      for (const Value& kv : attrs->GetArray()) {
        const Value* value = find(kv, "value");
        if (string_of(kv, "key") == std::optional<std::string_view>("service.name") && value != nullptr)
          if (const auto name = string_of(*value, "stringValue")) ctx.service_name.emplace(*name);
      }
    }
    const Value* scope_spans = find(rs, "scopeSpans");
    if (scope_spans == nullptr) continue;
    if (!scope_spans->IsArray()) return body_error("scopeSpans is not an array");
    for (const Value& ss : scope_spans->GetArray()) {
      const Value* spans = find(ss, "spans");
      if (!ss.IsObject() || (spans != nullptr && !spans->IsArray())) return body_error("malformed scopeSpans entry");
      if (spans == nullptr) continue;
      for (const Value& s : spans->GetArray()) {
        Span span;
        std::string error;
        if (decode_span(ctx, s, span, error)) {
          result.spans.push_back(std::move(span));
        } else {
          if (result.rejected++ == 0) result.first_error = "span " + std::to_string(index) + ": " + error;
        }
        ++index;
      }
    }
  }
  return result;
}

}  // namespace tracecol::protocol
