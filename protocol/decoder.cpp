#include "protocol/decoder.hpp"

#include <time.h>

#include <charconv>
#include <cmath>

#include "protocol/json_scanner.hpp"

namespace tracecol::protocol {
namespace {

/** What a span object said before it is checked as a whole. */
struct SpanText {
  std::string_view trace_id, span_id, parent_id, kind;
  std::string_view started, ended, start_nano, end_nano;
  bool has_trace_id = false, has_span_id = false, has_kind = false;
};

/** Top-level members that are not span fields. */
struct LineText {
  std::string_view type;
  bool has_type = false;
  const char* spans_at = nullptr;  // the "spans" array, validated on the first pass
  std::string_view id, version;    // flush / hello numbers
};

enum class Member { handled, unknown, failed };

bool parse_nanos(std::string_view digits, std::int64_t& ns) {
  if (digits.empty() || digits.size() > 19) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ns);
  return ec == std::errc() && ptr == digits.data() + digits.size() && ns > 0;
}

/** "1732500000.142" exactly: integer seconds and up to 9 fraction digits, no double rounding. */
bool parse_decimal_seconds(std::string_view token, std::int64_t& seconds, std::int64_t& nanos) {
  const std::size_t dot = token.find('.');
  const std::string_view whole = token.substr(0, dot);
  if (whole.empty() || whole.size() > 10 || whole.front() == '-') return false;
  auto [ptr, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (ec != std::errc() || ptr != whole.data() + whole.size()) return false;
  nanos = 0;
  if (dot != std::string_view::npos) {
    const std::string_view frac = token.substr(dot + 1);
    for (std::size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < frac.size() ? frac[i] - '0' : 0);
    if (frac.size() > 9 && frac[9] >= '5') ++nanos;  // round the tenth digit
  }
  return true;
}

bool parse_seconds(std::string_view token, std::int64_t offset_ns, std::int64_t& ns) {
  std::int64_t whole = 0, frac = 0;
  double seconds = 0;
  const bool plain = token.find_first_of("eE") == std::string_view::npos;
  if (plain && parse_decimal_seconds(token, whole, frac)) {
    seconds = static_cast<double>(whole);
  } else {
    auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), seconds);
    // Huge exponents come back out_of_range here: rejected, never converted (CVE-2024-38517).
    if (ec != std::errc() || ptr != token.data() + token.size() || !std::isfinite(seconds) || seconds < 0) return false;
    if (seconds >= 9.2e9) return false;
    whole = static_cast<std::int64_t>(seconds);
    frac = std::llround((seconds - static_cast<double>(whole)) * 1e9);
  }
  if (seconds >= 9.2e9) return false;  // past int64 nanoseconds (year 2261)
  std::int64_t value = whole * 1000000000LL + frac;
  // Below 1e9 s the agent sent CLOCK_MONOTONIC seconds: a sidecar shares its kernel's clock.
  if (seconds < 1e9) value += offset_ns;
  if (value <= 0) return false;
  ns = value;
  return true;
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

  bool fail(RejectReason r, const char* at) { return scan.fail(r, at); }

  /** A string or null at p into dst (null leaves dst empty); other types fail with `reason`. */
  Member string_or_null(const char*& p, std::string* dst, std::string_view* view, bool& present, RejectReason reason) {
    if (*p == 'n') {
      if (!scan.skip_value(p, 1)) return Member::failed;
      present = false;
      return Member::handled;
    }
    if (*p != '"') return fail(reason, p), Member::failed;
    std::string_view raw;
    bool escaped;
    if (!scan.scan_string(p, raw, escaped)) return Member::failed;
    present = true;
    if (dst != nullptr) {
      dst->clear();
      if (escaped) JsonScanner::unescape(raw, *dst);
      else dst->assign(raw);
    }
    if (view != nullptr) *view = scan.text_of(raw, escaped);
    return Member::handled;
  }

  /** An object (kept as its bytes, redacted) or null; `keep` false still validates it. */
  Member object_or_null(const char*& p, std::size_t depth, std::string& dst, bool keep, bool& present,
                        std::string_view null_as) {
    if (*p == 'n') {
      if (!scan.skip_value(p, depth)) return Member::failed;
      dst.assign(null_as);
      present = keep;
      return Member::handled;
    }
    if (*p != '{') return fail(RejectReason::bad_field, p), Member::failed;
    const char* start = p;
    scan.clear_redactions();
    const bool redact = keep && !options.redact_keys.empty();
    if (!scan.skip_value(p, depth, redact ? &options.redact_keys : nullptr)) return Member::failed;
    if (!keep) return Member::handled;
    present = true;
    const auto& cuts = scan.redactions();
    if (cuts.empty()) {
      dst.assign(start, static_cast<std::size_t>(p - start));
      return Member::handled;
    }
    dst.clear();
    std::size_t from = static_cast<std::size_t>(start - scan.begin());
    for (const auto& [cut_begin, cut_end] : cuts) {
      dst.append(scan.begin() + from, cut_begin - from);
      dst += "\"[REDACTED]\"";
      from = cut_end;
    }
    dst.append(scan.begin() + from, static_cast<std::size_t>(p - scan.begin()) - from);
    return Member::handled;
  }

  Member number_or_null(const char*& p, std::string_view& token, RejectReason reason) {
    if (*p == 'n') return scan.skip_value(p, 1) ? Member::handled : Member::failed;
    if (*p == '-' || (*p >= '0' && *p <= '9')) return scan.scan_number(p, token) ? Member::handled : Member::failed;
    return fail(reason, p), Member::failed;
  }

  /** Unix nanos as an integer or a string of digits (OTLP's JSON writes 64-bit ints as strings). */
  Member nanos(const char*& p, std::string_view& token) {
    if (*p == '"') {
      bool present;
      return string_or_null(p, nullptr, &token, present, RejectReason::bad_time);
    }
    return number_or_null(p, token, RejectReason::bad_time);
  }

  /** One member of a span object; depth is the span object's own depth. */
  Member span_member(std::string_view key, const char*& p, std::size_t depth, Span& span, SpanText& t) {
    bool present = false;
    Member m = Member::unknown;
    auto mark = [&](SpanField f) {
      if (m == Member::handled && present) span.fields |= f;
    };
    if (key == "trace_id") {
      m = string_or_null(p, nullptr, &t.trace_id, t.has_trace_id, RejectReason::bad_trace_id);
    } else if (key == "span_id") {
      m = string_or_null(p, nullptr, &t.span_id, t.has_span_id, RejectReason::bad_span_id);
    } else if (key == "parent_id") {
      m = string_or_null(p, nullptr, &t.parent_id, present, RejectReason::bad_span_id);
    } else if (key == "run_id") {
      m = string_or_null(p, &span.run_id, nullptr, present, RejectReason::bad_field);
      mark(field_run_id);
    } else if (key == "name") {
      m = string_or_null(p, &span.name, nullptr, present, RejectReason::bad_field);
      mark(field_name);
    } else if (key == "kind") {
      m = string_or_null(p, nullptr, &t.kind, t.has_kind, RejectReason::bad_kind);
    } else if (key == "started_at") {
      m = number_or_null(p, t.started, RejectReason::bad_time);
    } else if (key == "ended_at") {
      m = number_or_null(p, t.ended, RejectReason::bad_time);
    } else if (key == "start_time_unix_nano") {
      m = nanos(p, t.start_nano);
    } else if (key == "end_time_unix_nano") {
      m = nanos(p, t.end_nano);
    } else if (key == "inputs") {
      m = object_or_null(p, depth, span.inputs, options.include_inputs, present, "{}");
      mark(field_inputs);
    } else if (key == "outputs") {
      m = object_or_null(p, depth, span.outputs, options.include_outputs, present, "null");
      if (!options.include_outputs) span.outputs.clear();
      mark(field_outputs);
    } else if (key == "metadata") {
      m = object_or_null(p, depth, span.metadata, true, present, "{}");
      mark(field_metadata);
    } else if (key == "error") {
      m = string_or_null(p, &span.error, nullptr, present, RejectReason::bad_field);
      mark(field_error);
    }
    return m;
  }

  /** Checks ids, kind and times of a decoded span; `whole`: a span event (not a half). */
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
      if (!parse_nanos(t.start_nano, span.started_at_ns)) return fail(RejectReason::bad_time, at);
    } else if (!t.started.empty() && !parse_seconds(t.started, offset, span.started_at_ns)) {
      return fail(RejectReason::bad_time, at);
    }
    if (!t.end_nano.empty()) {
      if (!parse_nanos(t.end_nano, span.ended_at_ns)) return fail(RejectReason::bad_time, at);
    } else if (!t.ended.empty() && !parse_seconds(t.ended, offset, span.ended_at_ns)) {
      return fail(RejectReason::bad_time, at);
    }
    if (span.started_at_ns != 0) span.fields |= field_started_at;
    if (span.ended_at_ns != 0) span.fields |= field_ended_at;
    if (type == EventType::span_end) {
      if (span.ended_at_ns == 0) return fail(RejectReason::bad_time, at);
    } else if (span.started_at_ns == 0) {
      return fail(RejectReason::bad_time, at);
    }
    if (span.started_at_ns != 0 && span.ended_at_ns != 0 && span.ended_at_ns < span.started_at_ns)
      return fail(RejectReason::bad_time, at);
    return true;
  }

  /** p at '{': walks an object's members, handing each value to on_member. */
  template <typename OnMember>
  bool walk_object(const char*& p, std::size_t depth, OnMember&& on_member) {
    if (depth > options.max_depth) return fail(RejectReason::too_deep, p);
    ++p;
    scan.begin_keys();
    scan.skip_ws(p);
    if (p < scan.end() && *p == '}') {
      ++p;
      return scan.end_keys();
    }
    for (;;) {
      scan.skip_ws(p);
      if (p >= scan.end() || *p != '"') return fail(RejectReason::invalid_json, p);
      std::string_view raw;
      bool escaped;
      if (!scan.scan_string(p, raw, escaped)) return false;
      const std::string_view key = scan.text_of(raw, escaped);
      scan.add_key(key);
      scan.skip_ws(p);
      if (p >= scan.end() || *p != ':') return fail(RejectReason::invalid_json, p);
      ++p;
      scan.skip_ws(p);
      if (p >= scan.end()) return fail(RejectReason::invalid_json, p);
      switch (on_member(key, p)) {
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
        ++p;
        return scan.end_keys();
      } else {
        return fail(RejectReason::invalid_json, p);
      }
    }
  }

  /** Second pass over a validated "spans" array: each element a span of this trace. */
  bool decode_trace_spans(const char* p, Event& event) {
    ++p;  // '['
    scan.skip_ws(p);
    if (*p == ']') return true;
    for (;;) {
      scan.skip_ws(p);
      const char* at = p;
      if (*p != '{') return fail(RejectReason::bad_field, p);
      Span& span = event.spans.emplace_back();
      SpanText t;
      if (!walk_object(p, 3, [&](std::string_view key, const char*& vp) { return span_member(key, vp, 3, span, t); }))
        return false;
      if (t.has_trace_id) {
        auto id = parse_trace_id(t.trace_id);
        if (!id) return fail(RejectReason::bad_trace_id, at);
        if (*id != event.trace_id) return fail(RejectReason::bad_trace_id, at);
      }
      span.trace_id = event.trace_id;
      if (span.run_id.empty() && !event.run_id.empty()) {
        span.run_id = event.run_id;
        span.fields |= field_run_id;
      }
      if (!finish_span(span, t, EventType::span, at)) return false;
      scan.skip_ws(p);
      if (*p == ',') {
        ++p;
      } else {
        return true;  // ']' (validated on the first pass)
      }
    }
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
    LineText line;
    SpanText t;
    Span& span = event.span;
    auto member = [&](std::string_view key, const char*& vp) -> Member {
      if (key == "type") return string_or_null(vp, nullptr, &line.type, line.has_type, RejectReason::unknown_type);
      if (key == "spans") {
        line.spans_at = vp;
        return scan.skip_value(vp, 1) ? Member::handled : Member::failed;
      }
      if (key == "id") return number_or_null(vp, line.id, RejectReason::bad_field);
      if (key == "client") { bool x; return string_or_null(vp, &event.client_name, nullptr, x, RejectReason::bad_field); }
      if (key == "service") { bool x; return string_or_null(vp, &event.service_name, nullptr, x, RejectReason::bad_field); }
      if (key == "version") return number_or_null(vp, line.version, RejectReason::bad_field);
      return span_member(key, vp, 1, span, t);
    };
    const char* start = p;
    if (!walk_object(p, 1, member)) return false;
    scan.skip_ws(p);
    if (p != scan.end()) return fail(RejectReason::invalid_json, p);
    if (!line.has_type) return fail(RejectReason::missing_type, start);
    const std::string_view type = line.type;
    if (type == "span" || type == "span_start" || type == "span_end") {
      event.type = type == "span" ? EventType::span : type == "span_start" ? EventType::span_start : EventType::span_end;
      return finish_span(span, t, event.type, start);
    }
    if (type == "trace" || type == "trace_end") {
      event.type = type == "trace" ? EventType::trace : EventType::trace_end;
      if (!t.has_trace_id) return fail(RejectReason::missing_trace_id, start);
      auto id = parse_trace_id(t.trace_id);
      if (!id) return fail(RejectReason::bad_trace_id, start);
      event.trace_id = *id;
      event.run_id = span.run_id;
      if (event.type == EventType::trace) {
        if (line.spans_at == nullptr) return true;
        if (*line.spans_at != '[') return fail(RejectReason::bad_field, line.spans_at);
        return decode_trace_spans(line.spans_at, event);
      }
      return true;
    }
    if (type == "flush") {
      event.type = EventType::flush;
      if (!line.id.empty()) {
        auto [ptr, ec] = std::from_chars(line.id.data(), line.id.data() + line.id.size(), event.flush_id);
        if (ec != std::errc() || ptr != line.id.data() + line.id.size()) return fail(RejectReason::bad_field, start);
      }
      return true;
    }
    if (type == "hello") {
      event.type = EventType::hello;
      if (!line.version.empty()) {
        auto [ptr, ec] = std::from_chars(line.version.data(), line.version.data() + line.version.size(),
                                         event.protocol_version);
        if (ec != std::errc() || ptr != line.version.data() + line.version.size()) return fail(RejectReason::bad_field, start);
      }
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
  impl_->scan.reset(line.data(), line.data() + line.size(), impl_->options.max_depth);
  if (impl_->decode(out)) return DecodeResult::accept();
  return DecodeResult::reject(impl_->scan.reason(), impl_->scan.offset());
}

}  // namespace tracecol::protocol
