#include "protocol/encoder.hpp"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "protocol/object_writer.hpp"
#include "protocol/trace_tree.hpp"

namespace tracecol::protocol {
namespace {

/** Milliseconds from end - start, at most 3 decimals, no exponent, no inf, no overflow. */
void append_duration_ms(std::string& out, std::int64_t start, std::int64_t end) {
  const bool negative = end < start;
  // Unsigned difference: exact for any two int64 values, where the signed one could overflow.
  const std::uint64_t us = (negative ? static_cast<std::uint64_t>(start) - static_cast<std::uint64_t>(end)
                                     : static_cast<std::uint64_t>(end) - static_cast<std::uint64_t>(start)) / 1000;
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%s%" PRIu64, negative ? "-" : "", us / 1000);
  if (const std::uint64_t frac = us % 1000; frac != 0) {
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%03" PRIu64, frac);
    while (buf[n - 1] == '0') --n;
  }
  out.append(buf, static_cast<std::size_t>(n));
}

void append_time_or_null(std::string& out, std::int64_t ns) {
  if (ns == 0) out += "null";
  else append_epoch_seconds(out, ns);
}

}  // namespace

namespace {

/**
 * True when one of the 8 bytes at p is a control (< 0x20), '"' or '\\'. Exact (no false
 * positives) per the classic has-less-than / has-zero-byte word tricks, so clean text is
 * skipped 8 bytes a step: the OTLP exporter escapes whole inputs and outputs here.
 */
inline bool word_needs_escape(const char* p) {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t highs = 0x8080808080808080ull;
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  const std::uint64_t quote = w ^ (ones * '"');
  const std::uint64_t backslash = w ^ (ones * '\\');
  const std::uint64_t below_space = (w - ones * 0x20) & ~w;
  const std::uint64_t zero_quote = (quote - ones) & ~quote;
  const std::uint64_t zero_backslash = (backslash - ones) & ~backslash;
  return ((below_space | zero_quote | zero_backslash) & highs) != 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    while (i + 8 <= s.size() && !word_needs_escape(s.data() + i)) i += 8;
    if (i == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_epoch_seconds(std::string& out, std::int64_t ns) {
  const bool negative = ns < 0;
  const std::uint64_t abs = negative ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%06" PRIu64, negative ? "-" : "",
                              abs / 1000000000u, (abs % 1000000000u) / 1000u);
  out.append(buf, static_cast<std::size_t>(n));
}

void append_span_json(std::string& out, const Span& span, int depth) {
  ObjectWriter w(out);
  w.key("trace_id") += '"';
  span.trace_id.append_hex(out);
  out += '"';
  w.key("span_id") += '"';
  append_span_id_hex(out, span.span_id);
  out += '"';
  if (span.parent_id == 0) {
    w.raw("parent_id", "null");
  } else {
    w.key("parent_id") += '"';
    append_span_id_hex(out, span.parent_id);
    out += '"';
  }
  append_json_string(w.key("run_id"), span.run_id);
  append_json_string(w.key("name"), span.name);
  append_json_string(w.key("kind"), to_string(span.kind));
  append_epoch_seconds(w.key("started_at"), span.started_at_ns);
  append_time_or_null(w.key("ended_at"), span.ended_at_ns);
  if (span.ended()) append_duration_ms(w.key("duration_ms"), span.started_at_ns, span.ended_at_ns);
  else w.raw("duration_ms", "null");
  if (depth >= 0) append_u64(w.key("depth"), static_cast<std::uint64_t>(depth));
  if (span.orphan) w.raw("orphan", "true");
  if (span.late) w.raw("late", "true");
  w.raw("inputs", span.inputs.empty() ? std::string_view("{}") : std::string_view(span.inputs));
  w.raw("outputs", span.outputs.empty() ? std::string_view("null") : std::string_view(span.outputs));
  if (span.has_error()) append_json_string(w.key("error"), span.error);
  else w.raw("error", "null");
  w.raw("metadata", span.metadata.empty() ? std::string_view("{}") : std::string_view(span.metadata));
  w.close();
}

void append_trace_json(std::string& out, const Trace& trace) {
  ObjectWriter w(out);
  w.key("trace_id") += '"';
  trace.trace_id.append_hex(out);
  out += '"';
  append_json_string(w.key("run_id"), trace.run_id);
  w.raw("complete", trace.complete ? "true" : "false");
  if (trace.follow_up) w.raw("follow_up", "true");
  const std::int64_t start = trace.started_at_ns();
  const std::int64_t end = trace.ended_at_ns();
  append_time_or_null(w.key("started_at"), start);
  append_time_or_null(w.key("ended_at"), end);
  if (end != 0) append_duration_ms(w.key("duration_ms"), start, end);
  else w.raw("duration_ms", "null");
  append_u64(w.key("span_count"), trace.spans.size());
  append_u64(w.key("error_count"), trace.error_count());
  w.key("spans") += '[';
  bool first = true;
  for (const TreeRow& row : tree_order(trace)) {
    if (!first) out += ',';
    first = false;
    const Span& span = trace.spans[row.index];
    if (row.orphan && !span.orphan) {
      Span marked = span;  // rare: only orphans pay for the copy
      marked.orphan = true;
      append_span_json(out, marked, row.depth);
    } else {
      append_span_json(out, span, row.depth);
    }
  }
  out += ']';
  w.close();
}

}  // namespace tracecol::protocol
