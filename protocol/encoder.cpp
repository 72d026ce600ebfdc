#include "protocol/encoder.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/** Non-zero for the bytes a JSON string must escape: controls, '"' and '\\'. */
constexpr std::array<std::uint8_t, 256> needs_escape = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  return t;
}();

#if defined(__SSE2__)
/** Lanes of the 16 bytes at p that are '"' or '\\' (quoted), or below 0x20 (control): 0xff where so. */
struct EscapeMasks {
  __m128i quoted;
  __m128i control;
};
inline EscapeMasks escape_masks16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return {_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
          _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v)};  // unsigned v <= 0x1f
}

/** Bit i set when byte i of the 16 at p must be escaped. */
inline unsigned escape_bits16(const char* p) {
  const EscapeMasks m = escape_masks16(p);
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(m.quoted, m.control)));
}
#else
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
#endif

#if defined(__SSE2__)
constexpr int block = 16;
#else
constexpr int block = 8;
#endif

/** Bytes before the first one to escape, at most block; p + block <= end. */
inline int clean_prefix(const char* p) {
#if defined(__SSE2__)
  const unsigned bits = escape_bits16(p);
  return bits == 0 ? block : std::countr_zero(bits);
#else
  const std::uint64_t mask = escape_mask(p);
  return mask == 0 ? block : std::countr_zero(mask) >> 3;
#endif
}

/** The first byte of [p, end) to escape, or end. */
inline const char* find_escape(const char* p, const char* const end) {
  while (end - p >= block) {
    const int clean = clean_prefix(p);
    p += clean;
    if (clean < block) return p;
  }
  while (p < end && !needs_escape[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

/** Writes the escape of c (a byte needs_escape flags) at d; returns the new end (2 or 6 bytes). */
inline char* write_escape(char* d, unsigned char c) {
  d[0] = '\\';
  // '"' and '\\' are escaped as themselves: the only escapes in JSON text (input.value,
  // output.value), one every few bytes there, so they take no table and no jump.
  if (c >= 0x20) [[likely]] {
    d[1] = static_cast<char>(c);
    return d + 2;
  }
  static constexpr std::array<char, 0x20> short_form = [] {
    std::array<char, 0x20> t{};
    t['\b'] = 'b';
    t['\t'] = 't';
    t['\n'] = 'n';
    t['\f'] = 'f';
    t['\r'] = 'r';
    return t;
  }();
  if (const char letter = short_form[c]; letter != 0) {
    d[1] = letter;
    return d + 2;
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::memcpy(d + 1, "u00", 3);
  d[4] = hex[c >> 4];
  d[5] = hex[c & 0xf];
  return d + 6;
}

}  // namespace

std::size_t json_escape_position(std::string_view s) {
  return static_cast<std::size_t>(find_escape(s.data(), s.data() + s.size()) - s.data());
}

std::size_t json_string_bound(std::string_view s) {
  // Exact but for controls: \n is counted at 6 bytes like \u0001. Additive over the
  // bytes, so a string's bound is at most the sum of its pieces' bounds.
  std::size_t extra = 0;
  const char* p = s.data();
  const char* const end = p + s.size();
#if defined(__SSE2__)
  // Counted in byte lanes (a match is -1, subtracted) and summed every 255 blocks, before a
  // lane can wrap: baseline x86-64 has no popcnt instruction, and libgcc's took a sixth
  // of the OTLP JSON encoder.
  const __m128i zero = _mm_setzero_si128();
  while (end - p >= block) {
    __m128i quoted = zero, control = zero;
    for (int n = 0; n < 255 && end - p >= block; ++n, p += block) {
      const EscapeMasks m = escape_masks16(p);
      quoted = _mm_sub_epi8(quoted, m.quoted);
      control = _mm_sub_epi8(control, m.control);
    }
    // Each half's byte sum (at most 8 x 255) lands in the low 16 bits of its 64-bit lane.
    const __m128i q = _mm_sad_epu8(quoted, zero), c = _mm_sad_epu8(control, zero);
    const auto lanes = [](__m128i v) {
      return static_cast<std::size_t>(_mm_cvtsi128_si32(v) + _mm_extract_epi16(v, 4));
    };
    extra += lanes(q) + 5 * lanes(c);
  }
#endif
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (needs_escape[c]) extra += c < 0x20 ? 5 : 1;
  }
  return 2 + s.size() + extra;
}

char* write_json_string(char* d, std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
  *d++ = '"';
  // A block is copied before knowing how much of it is clean: the bound leaves room for
  // every input byte still to come, so the copy never runs past it.
  while (end - p >= block) {
    std::memcpy(d, p, block);
#if defined(__SSE2__)
    unsigned bits = escape_bits16(p);
    if (bits == 0) {
      d += block;
      p += block;
      continue;
    }
    // The block's escapes from its one mask: the clean prefix is in place; after each
    // escape the clean run up to the next is copied (16 bytes at once while that many
    // input bytes remain, so the room is there too).
    const char* const start = p;
    const int first = std::countr_zero(bits);
    d += first;
    p += first;
    for (;;) {
      d = write_escape(d, static_cast<unsigned char>(*p++));
      bits &= bits - 1;
      const char* const next = bits != 0 ? start + std::countr_zero(bits) : start + block;
      if (end - p >= block) {
        std::memcpy(d, p, block);
        d += next - p;
        p = next;
      } else {
        while (p < next) *d++ = *p++;
      }
      if (bits == 0) break;
    }
#else
    const int clean = clean_prefix(p);
    d += clean;
    p += clean;
    if (clean < block) d = write_escape(d, static_cast<unsigned char>(*p++));
#endif
  }
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (needs_escape[c]) d = write_escape(d, c);
    else *d++ = *p;
  }
  *d++ = '"';
  return d;
}

void append_json_string(std::string& out, std::string_view s) {
  if (find_escape(s.data(), s.data() + s.size()) == s.data() + s.size()) {  // names, ids, keys: one copy
    out.reserve(out.size() + s.size() + 2);
    out += '"';
    out.append(s.data(), s.size());
    out += '"';
    return;
  }
  const std::size_t at = out.size();
  out.resize(at + json_string_bound(s));
  out.resize(static_cast<std::size_t>(write_json_string(out.data() + at, s) - out.data()));
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
  append_metadata_json(w.key("metadata"), span);
  w.close();
}

void append_metadata_json(std::string& out, const Span& span) {
  const std::string_view metadata = span.metadata.empty() ? std::string_view("{}") : std::string_view(span.metadata);
  if (!span.has_peer || metadata.back() != '}') {
    out += metadata;
    return;
  }
  // Validated object text ending in '}': splice the peer members in before it. Rendered
  // here rather than stored in the text so ingest pays two integer stores per span, not a
  // string rewrite (and usually a heap allocation).
  std::size_t first = 1;
  while (first < metadata.size() && (metadata[first] == ' ' || metadata[first] == '\t' || metadata[first] == '\n' ||
                                     metadata[first] == '\r'))
    ++first;
  out.append(metadata.data(), metadata.size() - 1);
  if (metadata[first] != '}') out += ',';
  out += '"';
  out += peer_pid_key;
  out += "\":";
  if (span.peer_pid < 0) out += '-';
  append_u64(out, span.peer_pid < 0 ? 0u - static_cast<std::uint64_t>(span.peer_pid) : static_cast<std::uint64_t>(span.peer_pid));
  out += ",\"";
  out += peer_uid_key;
  out += "\":";
  append_u64(out, span.peer_uid);
  out += '}';
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
