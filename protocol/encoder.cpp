#include "protocol/encoder.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#include "protocol/object_writer.hpp"
#include "protocol/trace_tree.hpp"

namespace tracecol::protocol {
namespace {

static_assert(std::endian::native == std::endian::little, "escape_mask reads bytes little-endian");

/** Milliseconds from end - start, at most 3 decimals, no exponent, no inf, no overflow. */
void append_duration_ms(std::string& out, std::int64_t start, std::int64_t end) {
  const bool negative = end < start;
  // Unsigned difference: exact for any two int64 values, where the signed one could overflow.
  const std::uint64_t us = (negative ? static_cast<std::uint64_t>(start) - static_cast<std::uint64_t>(end)
                                     : static_cast<std::uint64_t>(end) - static_cast<std::uint64_t>(start)) / 1000;
  if (negative) out += '-';
  append_u64(out, us / 1000);
  if (std::uint64_t frac = us % 1000; frac != 0) {
    int width = 3;
    while (frac % 10 == 0) {
      frac /= 10;
      --width;
    }
    out += '.';
    append_padded(out, frac, width);
  }
}

void append_time_or_null(std::string& out, std::int64_t ns) {
  if (ns == 0) out += "null";
  else append_epoch_seconds(out, ns);
}

}  // namespace

namespace {

/**
 * The high bit of each of the 8 bytes at p that is a control (< 0x20), '"' or '\\'
 * (little-endian: byte 0 is the lowest). The has-less-than / has-zero-byte word tricks
 * can flag a byte above a true hit by borrow, never below one, so the lowest set bit is
 * exactly the first byte to escape and zero means the word is clean.
 */
inline std::uint64_t escape_mask(const char* p) {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t highs = 0x8080808080808080ull;
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  const std::uint64_t quote = w ^ (ones * '"');
  const std::uint64_t backslash = w ^ (ones * '\\');
  const std::uint64_t below_space = (w - ones * 0x20) & ~w;
  const std::uint64_t zero_quote = (quote - ones) & ~quote;
  const std::uint64_t zero_backslash = (backslash - ones) & ~backslash;
  return (below_space | zero_quote | zero_backslash) & highs;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  // Written through a pointer into space sized for the common case (few escapes) and
  // grown only when escapes use it up: per-byte std::string appends dominated the OTLP
  // exporter, whose input.value strings are JSON text with a quote every few bytes.
  std::size_t used = out.size();
  out.resize(used + s.size() + 2);
  char* d = out.data() + used;
  char* limit = out.data() + out.size();
  *d++ = '"';
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    if (end - p >= 8) {
      // Copy the word whole (the room is there: see below), keep the clean prefix.
      const std::uint64_t mask = escape_mask(p);
      std::memcpy(d, p, 8);
      const int clean = mask == 0 ? 8 : std::countr_zero(mask) >> 3;
      d += clean;
      p += clean;
      if (clean == 8) continue;
    }
    const unsigned char c = static_cast<unsigned char>(*p++);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *d++ = static_cast<char>(c);
      continue;
    }
    // Room for this escape (6 bytes at most) plus the rest unescaped and the closing quote.
    if (limit - d < 6 + (end - p) + 1) {
      used = static_cast<std::size_t>(d - out.data());
      out.resize(used + 6 + static_cast<std::size_t>(end - p) + 1 + s.size() / 4 + 16);
      d = out.data() + used;
      limit = out.data() + out.size();
    }
    *d++ = '\\';
    switch (c) {
      case '"': *d++ = '"'; break;
      case '\\': *d++ = '\\'; break;
      case '\n': *d++ = 'n'; break;
      case '\r': *d++ = 'r'; break;
      case '\t': *d++ = 't'; break;
      case '\b': *d++ = 'b'; break;
      case '\f': *d++ = 'f'; break;
      default:
        *d++ = 'u';
        *d++ = '0';
        *d++ = '0';
        *d++ = hex[c >> 4];
        *d++ = hex[c & 0xf];
    }
  }
  *d++ = '"';
  out.resize(static_cast<std::size_t>(d - out.data()));
}

void append_epoch_seconds(std::string& out, std::int64_t ns) {
  const bool negative = ns < 0;
  const std::uint64_t abs = negative ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
  if (negative) out += '-';
  append_u64(out, abs / 1000000000u);
  out += '.';
  append_padded(out, (abs % 1000000000u) / 1000u, 6);
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
