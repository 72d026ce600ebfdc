#include "protocol/decoder.hpp"

#include <time.h>

#include <charconv>
#include <cstring>
#include <optional>

#include "protocol/json_scanner.hpp"
#include "protocol/wire_keys.hpp"
#include "protocol/wire_time.hpp"

namespace tracecol::protocol {
namespace {

/** What a span object said, checked as a whole once the object has been read. */
struct SpanText {
  std::string_view trace_id, span_id, parent_id, kind;
  std::string_view started, ended, start_nano, end_nano;
  bool has_trace_id = false, has_span_id = false, has_kind = false;
  const char* at = nullptr;  // the object's '{', where its rejections point
};

enum class Member { handled, unknown, failed };

/** Reasons found by reading the JSON itself; the others are field rules, checked on the way. */
bool is_syntax_reason(RejectReason r) {
  return r == RejectReason::invalid_json || r == RejectReason::invalid_utf8 || r == RejectReason::too_deep;
}

std::optional<EventType> parse_event_type(std::string_view type) {
  if (type == "span") return EventType::span;
  if (type == "span_start") return EventType::span_start;
  if (type == "span_end") return EventType::span_end;
  if (type == "trace") return EventType::trace;
  if (type == "trace_end") return EventType::trace_end;
  if (type == "flush") return EventType::flush;
  if (type == "hello") return EventType::hello;
  return std::nullopt;
}

/** The top-level members each event type reads; all others are unknown fields. */
std::uint32_t wire_keys_of(EventType type) {
  switch (type) {
    case EventType::span:
    case EventType::span_start:
    case EventType::span_end: return span_wire_keys;
    case EventType::trace: return wire_bit(WireKey::trace_id) | wire_bit(WireKey::run_id) | wire_bit(WireKey::spans);
    case EventType::trace_end: return wire_bit(WireKey::trace_id) | wire_bit(WireKey::run_id);
    case EventType::flush: return wire_bit(WireKey::id);
    case EventType::hello: return wire_bit(WireKey::version) | wire_bit(WireKey::client) | wire_bit(WireKey::service);
  }
  return 0;
}

/**
 * In validated JSON a raw CR, LF or tab can only be whitespace between tokens (inside
 * strings they are refused): each becomes a space, so every record that re-emits the
 * stored text stays one line, even for readers that also split on a bare CR (Python's
 * universal newlines). Same length, and no other byte changes.
 */
void one_line(std::string& json) {
  for (char& c : json) c = (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
}

template <typename Int>
bool parse_integer(std::string_view token, Int& out) {
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
  return ec == std::errc() && ptr == token.data() + token.size();
}

}  // namespace

std::vector<std::string> default_redact_keys() { return {"authorization", "api_key", "password", "secret", "token"}; }

std::int64_t current_monotonic_offset_ns() {
  timespec real{}, mono{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  return (static_cast<std::int64_t>(real.tv_sec) - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
}

struct Decoder::Impl {
  DecodeOptions options;
  JsonScanner scan;
  std::vector<SpanText> trace_texts;  // scratch: one per span of a trace line

  bool fail(RejectReason r, const char* at) { return scan.fail(r, at); }
  Member failed(RejectReason r, const char* at) {
    fail(r, at);
    return Member::failed;
  }
  /** A known field holding the wrong JSON type: a value that is not JSON at all is invalid_json. */
  Member wrong_type(const char* p, std::size_t depth, RejectReason reason) {
    const char* at = p;
    return scan.skip_value(p, depth) ? failed(reason, at) : Member::failed;
  }

  /** A string or null at p: into dst (decoded) and/or view; other types fail with `reason`. */
  Member string_or_null(const char*& p, std::string* dst, std::string_view* view, bool& present, RejectReason reason) {
    if (*p == 'n') {
      present = false;
      return scan.skip_value(p, 1) ? Member::handled : Member::failed;
    }
    if (*p != '"') return wrong_type(p, 1, reason);
    std::string_view raw;
    bool escaped;
    if (!scan.scan_string(p, raw, escaped)) return Member::failed;
    present = true;
    if (dst != nullptr) {
      dst->clear();
      dst->reserve(raw.size());  // unescaping never lengthens
      if (escaped) JsonScanner::unescape(raw, *dst);
      else dst->assign(raw);
    }
    if (view != nullptr) *view = scan.text_of(raw, escaped);
    return Member::handled;
  }

  /** An object (kept as its bytes, redacted) or null; with keep false it is only validated. */
  Member object_or_null(const char*& p, std::size_t depth, std::string& dst, bool keep, bool& present,
                        std::string_view null_as) {
    if (*p == 'n') {
      if (!scan.skip_value(p, depth)) return Member::failed;
      dst.assign(null_as);
      present = keep;
      return Member::handled;
    }
    if (*p != '{') return wrong_type(p, depth, RejectReason::bad_field);
    const char* start = p;
    scan.clear_redactions();
    const bool redact = keep && !options.redact_keys.empty();
    if (!scan.skip_value(p, depth, redact ? &options.redact_keys : nullptr, keep)) return Member::failed;
    if (!keep) return Member::handled;
    present = true;
    const auto& cuts = scan.redactions();
    if (cuts.empty()) {
      dst.assign(start, static_cast<std::size_t>(p - start));
    } else {
      // Splice: the bytes between redacted values are kept exactly as sent.
      dst.clear();
      dst.reserve(static_cast<std::size_t>(p - start) + cuts.size() * 12);
      std::size_t from = static_cast<std::size_t>(start - scan.begin());
      for (const auto& [cut_begin, cut_end] : cuts) {
        dst.append(scan.begin() + from, cut_begin - from);
        dst += "\"[REDACTED]\"";
        from = cut_end;
      }
      dst.append(scan.begin() + from, static_cast<std::size_t>(p - scan.begin()) - from);
    }
    one_line(dst);
    return Member::handled;
  }

  Member number_or_null(const char*& p, std::string_view& token, RejectReason reason) {
    if (*p == 'n') return scan.skip_value(p, 1) ? Member::handled : Member::failed;
    if (*p == '-' || (*p >= '0' && *p <= '9')) return scan.scan_number(p, token) ? Member::handled : Member::failed;
    return wrong_type(p, 1, reason);
  }

  /** Unix nanos as an integer or a string of digits (OTLP's JSON writes 64-bit ints as strings). */
  Member nanos(const char*& p, std::string_view& token) {
    bool present;
    if (*p == '"') return string_or_null(p, nullptr, &token, present, RejectReason::bad_time);
    return number_or_null(p, token, RejectReason::bad_time);
  }

  /** One member of a span object; depth is the span object's own depth. */
  Member span_member(WireKey key, const char*& p, std::size_t depth, Span& span, SpanText& t) {
    bool present = false;
    Member m = Member::unknown;
    SpanField field{};
    switch (key) {
      case WireKey::trace_id:
        return string_or_null(p, nullptr, &t.trace_id, t.has_trace_id, RejectReason::bad_trace_id);
      case WireKey::span_id:
        return string_or_null(p, nullptr, &t.span_id, t.has_span_id, RejectReason::bad_span_id);
      case WireKey::parent_id:
        return string_or_null(p, nullptr, &t.parent_id, present, RejectReason::bad_span_id);
      case WireKey::kind:
        return string_or_null(p, nullptr, &t.kind, t.has_kind, RejectReason::bad_kind);
      case WireKey::started_at: return number_or_null(p, t.started, RejectReason::bad_time);
      case WireKey::ended_at: return number_or_null(p, t.ended, RejectReason::bad_time);
      case WireKey::start_time_unix_nano: return nanos(p, t.start_nano);
      case WireKey::end_time_unix_nano: return nanos(p, t.end_nano);
      case WireKey::run_id:
        m = string_or_null(p, &span.run_id, nullptr, present, RejectReason::bad_field);
        field = field_run_id;
        break;
      case WireKey::name:
        m = string_or_null(p, &span.name, nullptr, present, RejectReason::bad_field);
        field = field_name;
        break;
      case WireKey::error:
        m = string_or_null(p, &span.error, nullptr, present, RejectReason::bad_field);
        field = field_error;
        break;
      case WireKey::inputs:
        m = object_or_null(p, depth, span.inputs, options.include_inputs, present, "{}");
        field = field_inputs;
        break;
      case WireKey::outputs:
        m = object_or_null(p, depth, span.outputs, options.include_outputs, present, "null");
        if (!options.include_outputs) span.outputs.clear();
        field = field_outputs;
        break;
      case WireKey::metadata:
        m = object_or_null(p, depth, span.metadata, true, present, "{}");
        field = field_metadata;
        break;
      default: return Member::unknown;
    }
    if (m == Member::handled && present) span.fields |= field;
    return m;
  }

  /** Checks ids, kind and times of a span once its object is read. */
  bool finish_span(Span& span, const SpanText& t, EventType type, const char* at) {
    if (t.has_trace_id) {
      auto id = parse_trace_id(t.trace_id);
      if (!id) return fail(RejectReason::bad_trace_id, at);
      span.trace_id = *id;
    }
    if (!span.trace_id) return fail(RejectReason::missing_trace_id, at);
    if (!t.has_span_id) return fail(RejectReason::missing_span_id, at);
    auto sid = parse_span_id(t.span_id);
    if (!sid) return fail(RejectReason::bad_span_id, at);
    span.span_id = *sid;
    if (!t.parent_id.empty()) {
      auto pid = parse_span_id(t.parent_id);
      if (!pid) return fail(RejectReason::bad_span_id, at);
      span.parent_id = *pid;
      span.fields |= field_parent_id;
    }
    if (t.has_kind) {
      auto kind = parse_span_kind(t.kind);
      if (!kind) return fail(RejectReason::bad_kind, at);
      span.kind = *kind;
      span.fields |= field_kind;
    }
    const std::int64_t offset = options.monotonic_offset_ns;
    if (!t.start_nano.empty()) {
      if (!parse_wire_nanos(t.start_nano, span.started_at_ns)) return fail(RejectReason::bad_time, at);
    } else if (!t.started.empty() && !parse_wire_seconds(t.started, offset, span.started_at_ns)) {
      return fail(RejectReason::bad_time, at);
    }
    if (!t.end_nano.empty()) {
      if (!parse_wire_nanos(t.end_nano, span.ended_at_ns)) return fail(RejectReason::bad_time, at);
    } else if (!t.ended.empty() && !parse_wire_seconds(t.ended, offset, span.ended_at_ns)) {
      return fail(RejectReason::bad_time, at);
    }
    if (span.started_at_ns != 0) span.fields |= field_started_at;
    if (span.ended_at_ns != 0) span.fields |= field_ended_at;
    if (type == EventType::span_end ? span.ended_at_ns == 0 : span.started_at_ns == 0)
      return fail(RejectReason::bad_time, at);
    if (span.started_at_ns != 0 && span.ended_at_ns != 0 && span.ended_at_ns < span.started_at_ns)
      return fail(RejectReason::bad_time, at);
    return true;
  }

  /**
   * p at '{': walks an object's members, handing each value to on_member(key, p).
   * Known member names are checked for repeats with a bit mask, the rest by the scanner.
   */
  template <typename OnMember>
  bool walk_object(const char*& p, std::size_t depth, OnMember&& on_member) {
    if (depth > options.max_depth) return fail(RejectReason::too_deep, p);
    ++p;
    scan.begin_keys();
    std::uint32_t seen = 0;
    scan.skip_ws(p);
    if (p < scan.end() && *p == '}') return scan.end_keys(p) && (++p, true);
    for (;;) {
      scan.skip_ws(p);
      if (p >= scan.end() || *p != '"') return fail(RejectReason::invalid_json, p);
      const char* key_at = p;
      std::string_view raw;
      bool escaped;
      if (!scan.scan_string(p, raw, escaped)) return false;
      const std::string_view key = scan.text_of(raw, escaped);
      const WireKey wire_key = classify_wire_key(key);
      if (wire_key == WireKey::unknown) {
        scan.add_key(key);
      } else if ((seen & wire_bit(wire_key)) != 0) {
        return fail(RejectReason::duplicate_key, key_at);
      } else {
        seen |= wire_bit(wire_key);
      }
      scan.skip_ws(p);
      if (p >= scan.end() || *p != ':') return fail(RejectReason::invalid_json, p);
      ++p;
      scan.skip_ws(p);
      if (p >= scan.end()) return fail(RejectReason::invalid_json, p);
      switch (on_member(wire_key, p)) {
        case Member::failed: return false;
        case Member::unknown:
          if (!scan.skip_value(p, depth)) return false;
          break;
        case Member::handled: break;
      }
      scan.skip_ws(p);
      if (p < scan.end() && *p == ',') {
        ++p;
      } else if (p < scan.end() && *p == '}') {
        return scan.end_keys(p) && (++p, true);
      } else {
        return fail(RejectReason::invalid_json, p);
      }
    }
  }

  /** p at the value of a trace's "spans": an array of span objects (depth 2, spans at 3). */
  Member trace_spans(const char*& p, Event& event) {
    if (*p != '[') return wrong_type(p, 1, RejectReason::bad_field);
    if (options.max_depth < 2) return failed(RejectReason::too_deep, p);
    ++p;
    scan.skip_ws(p);
    if (p < scan.end() && *p == ']') return ++p, Member::handled;
    for (;;) {
      scan.skip_ws(p);
      if (p >= scan.end()) return failed(RejectReason::invalid_json, p);
      if (*p != '{') return wrong_type(p, 2, RejectReason::bad_field);
      Span& span = event.spans.emplace_back();
      SpanText& t = trace_texts.emplace_back();
      t.at = p;
      const bool ok = walk_object(p, 3, [&](WireKey key, const char*& vp) {
        return (span_wire_keys & wire_bit(key)) != 0 ? span_member(key, vp, 3, span, t) : Member::unknown;
      });
      if (!ok) return Member::failed;
      scan.skip_ws(p);
      if (p < scan.end() && *p == ',') {
        ++p;
      } else if (p < scan.end() && *p == ']') {
        return ++p, Member::handled;
      } else {
        return failed(RejectReason::invalid_json, p);
      }
    }
  }

  /** Spans of a trace line, checked once the whole line (and so its run_id) is known. */
  bool finish_trace_spans(Event& event) {
    for (std::size_t i = 0; i < event.spans.size(); ++i) {
      Span& span = event.spans[i];
      const SpanText& t = trace_texts[i];
      if (t.has_trace_id) {
        auto id = parse_trace_id(t.trace_id);
        if (!id || *id != event.trace_id) return fail(RejectReason::bad_trace_id, t.at);
      }
      span.trace_id = event.trace_id;
      if (span.run_id.empty() && !event.run_id.empty()) {
        span.run_id = event.run_id;
        span.fields |= field_run_id;
      }
      if (!finish_span(span, t, EventType::span, t.at)) return false;
    }
    return true;
  }

  /** Validates the whole line and finds its "type": only for lines where it is not first. */
  bool find_type(const char* p, std::optional<EventType>& type) {
    std::string_view text;
    bool has_type = false;
    const char* start = p;
    const bool ok = walk_object(p, 1, [&](WireKey key, const char*& vp) {
      if (key != WireKey::type) return Member::unknown;
      return string_or_null(vp, nullptr, &text, has_type, RejectReason::unknown_type);
    });
    if (!ok) return false;
    scan.skip_ws(p);
    if (p != scan.end()) return fail(RejectReason::invalid_json, p);
    if (!has_type) return fail(RejectReason::missing_type, start);
    type = parse_event_type(text);
    if (!type) return fail(RejectReason::unknown_type, start);
    return true;
  }

  bool decode(Event& event) {
    const char* p = scan.begin();
    scan.skip_ws(p);
    if (p >= scan.end() || *p != '{') {
      const char* q = p;
      if (q < scan.end() && scan.skip_value(q, 0)) {
        scan.skip_ws(q);
        return fail(q == scan.end() ? RejectReason::not_an_object : RejectReason::invalid_json, q);
      }
      return fail(RejectReason::invalid_json, q);
    }
    const char* start = p;
    // Members are read by type, so the type must be known first. Clients write it first;
    // otherwise a validating pre-pass finds it and the line is read again.
    std::optional<EventType> type;
    const char* first_key = p + 1;
    scan.skip_ws(first_key);
    if (scan.end() - first_key < 6 || std::memcmp(first_key, "\"type\"", 6) != 0) {
      if (!find_type(p, type)) return false;
      scan.reset(scan.begin(), scan.end(), options.max_depth);
    }
    bool type_known = type.has_value();
    bool type_null = false;
    std::uint32_t wanted = type ? wire_keys_of(*type) : 0;
    SpanText t;
    std::string_view id_token, version_token;
    auto member = [&](WireKey key, const char*& vp) -> Member {
      if (key == WireKey::type) {
        std::string_view text;
        bool present;
        const Member m = string_or_null(vp, nullptr, &text, present, RejectReason::unknown_type);
        if (m != Member::handled || type_known) return m;
        type_known = true;
        type_null = !present;
        type = parse_event_type(text);
        wanted = type && present ? wire_keys_of(*type) : 0;
        return m;
      }
      if ((wanted & wire_bit(key)) == 0) return Member::unknown;
      switch (key) {
        case WireKey::spans: return trace_spans(vp, event);
        case WireKey::id: return number_or_null(vp, id_token, RejectReason::bad_field);
        case WireKey::version: return number_or_null(vp, version_token, RejectReason::bad_field);
        case WireKey::client: {
          bool present;
          return string_or_null(vp, &event.client_name, nullptr, present, RejectReason::bad_field);
        }
        case WireKey::service: {
          bool present;
          return string_or_null(vp, &event.service_name, nullptr, present, RejectReason::bad_field);
        }
        default: return span_member(key, vp, 1, event.span, t);
      }
    };
    if (!walk_object(p, 1, member)) return false;
    scan.skip_ws(p);
    if (p != scan.end()) return fail(RejectReason::invalid_json, p);
    if (type_null) return fail(RejectReason::missing_type, start);
    if (!type) return fail(RejectReason::unknown_type, start);
    event.type = *type;
    switch (event.type) {
      case EventType::span:
      case EventType::span_start:
      case EventType::span_end: return finish_span(event.span, t, event.type, start);
      case EventType::trace:
      case EventType::trace_end: {
        if (!t.has_trace_id) return fail(RejectReason::missing_trace_id, start);
        auto id = parse_trace_id(t.trace_id);
        if (!id) return fail(RejectReason::bad_trace_id, start);
        event.trace_id = *id;
        event.run_id = std::move(event.span.run_id);
        event.span = Span{};
        return finish_trace_spans(event);
      }
      case EventType::flush:
        if (!id_token.empty() && !parse_integer(id_token, event.flush_id)) return fail(RejectReason::bad_field, start);
        return true;
      case EventType::hello:
        if (!version_token.empty() && !parse_integer(version_token, event.protocol_version))
          return fail(RejectReason::bad_field, start);
        return true;
    }
    return fail(RejectReason::unknown_type, start);
  }
};

Decoder::Decoder(DecodeOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  for (auto& k : impl_->options.redact_keys)
    for (char& c : k) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
}
Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;

const DecodeOptions& Decoder::options() const { return impl_->options; }
void Decoder::set_monotonic_offset_ns(std::int64_t offset) { impl_->options.monotonic_offset_ns = offset; }

DecodeResult Decoder::decode(std::string_view line, Event& out) {
  out = Event{};
  impl_->trace_texts.clear();
  impl_->scan.reset(line.data(), line.data() + line.size(), impl_->options.max_depth);
  if (impl_->decode(out)) return DecodeResult::accept();
  DecodeResult result = DecodeResult::reject(impl_->scan.reason(), impl_->scan.offset());
  if (!is_syntax_reason(result.reason)) {
    // A field rule stopped the read early; the line must still be JSON for that reason to
    // stand, else it is reported as the JSON it is not (only rejected lines pay this pass).
    JsonScanner& scan = impl_->scan;
    scan.reset(line.data(), line.data() + line.size(), impl_->options.max_depth);
    const char* p = scan.begin();
    scan.skip_ws(p);
    if (scan.skip_value(p, 0)) {
      scan.skip_ws(p);
      if (p != scan.end()) scan.fail(RejectReason::invalid_json, p);
    }
    // A duplicate found again keeps its first report (known keys are caught at the key itself).
    if (scan.failed() && scan.reason() != result.reason) result = DecodeResult::reject(scan.reason(), scan.offset());
  }
  return result;
}

}  // namespace tracecol::protocol
