#include "protocol/json_scanner.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "protocol/text_bytes.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tracecol::protocol {
namespace {

constexpr std::uint64_t ones = 0x0101010101010101ULL;
constexpr std::uint64_t highs = 0x8080808080808080ULL;

constexpr std::uint64_t has_zero_byte(std::uint64_t v) { return (v - ones) & ~v & highs; }

/** True when any of the 8 bytes needs a closer look: non-ASCII, control, '"' or '\\'. */
bool needs_attention(std::uint64_t w) {
  return ((w & highs) | has_zero_byte(w & ~(0x1fULL * ones)) /* < 0x20 */ |
          has_zero_byte(w ^ (0x22ULL * ones)) | has_zero_byte(w ^ (0x5cULL * ones))) != 0;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool equals_lowercase(std::string_view text, const std::string& lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

void JsonScanner::reset(const char* begin, const char* end, std::size_t max_depth) {
  begin_ = begin;
  end_ = end;
  max_depth_ = max_depth;
  stack_.clear();
  keys_.clear();
  key_frames_.clear();
  unescaped_used_ = 0;
  redactions_.clear();
  failed_ = false;
  fail_at_ = begin;
}

bool JsonScanner::fail(RejectReason reason, const char* at) {
  if (!failed_) {
    failed_ = true;
    reason_ = reason;
    fail_at_ = std::min(std::max(at, begin_), end_);
  }
  return false;
}

bool JsonScanner::scan_literal(const char*& p, std::string_view word) {
  if (static_cast<std::size_t>(end_ - p) < word.size() || std::memcmp(p, word.data(), word.size()) != 0)
    return fail(RejectReason::invalid_json, p);
  p += word.size();
  return true;
}

bool JsonScanner::scan_utf8(const char*& p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  const std::size_t left = static_cast<std::size_t>(end_ - p);
  auto cont = [&](std::size_t i) { return i < left && (u[i] & 0xc0) == 0x80; };
  std::size_t len;
  if (u[0] >= 0xc2 && u[0] <= 0xdf) {
    len = 2;
  } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
    // E0 needs A0.. (no overlongs); ED stops at 9F (no UTF-16 surrogates).
    if (left < 2 || (u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] > 0x9f)) return fail(RejectReason::invalid_utf8, p);
    len = 3;
  } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
    // F0 needs 90.. (no overlongs); F4 stops at 8F (nothing past U+10FFFF).
    if (left < 2 || (u[0] == 0xf0 && u[1] < 0x90) || (u[0] == 0xf4 && u[1] > 0x8f)) return fail(RejectReason::invalid_utf8, p);
    len = 4;
  } else {
    return fail(RejectReason::invalid_utf8, p);
  }
  for (std::size_t i = 1; i < len; ++i)
    if (!cont(i)) return fail(RejectReason::invalid_utf8, p);
  p += len;
  return true;
}

bool JsonScanner::read_hex4(const char* p, unsigned& out) {
  unsigned v = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = hex_digit(p[i]);
    if (d < 0) return false;
    v = (v << 4) | static_cast<unsigned>(d);
  }
  out = v;
  return true;
}

bool JsonScanner::scan_escape(const char*& p) {
  // p at '\\'
  if (end_ - p < 2) return fail(RejectReason::invalid_json, p);
  switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
      p += 2;
      return true;
    case 'u': break;
    default: return fail(RejectReason::invalid_json, p);
  }
  unsigned cp;
  if (end_ - p < 6 || !read_hex4(p + 2, cp)) return fail(RejectReason::invalid_json, p);
  if (cp >= 0xdc00 && cp <= 0xdfff) return fail(RejectReason::invalid_utf8, p);  // lone low surrogate
  if (cp >= 0xd800 && cp <= 0xdbff) {
    unsigned low;
    if (end_ - p < 12 || p[6] != '\\' || p[7] != 'u' || !read_hex4(p + 8, low) || low < 0xdc00 || low > 0xdfff)
      return fail(RejectReason::invalid_utf8, p);  // high surrogate without its low half
    p += 12;
    return true;
  }
  p += 6;
  return true;
}

const char* JsonScanner::skip_plain(const char* p) const {
#if defined(__SSE2__)
  // 16 bytes at a time: stop at the first '"', '\\', control or non-ASCII byte. As signed
  // bytes, controls (0x00..0x1f) and non-ASCII (0x80..0xff) are exactly those below 0x20.
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end_ - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                     _mm_cmplt_epi8(v, space));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (end_ - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if (needs_attention(w)) break;
    p += 8;
  }
  return p;
}

bool JsonScanner::scan_string(const char*& p, std::string_view& raw, bool& escaped) {
  const char* start = ++p;
  escaped = false;
  for (;;) {
    p = skip_plain(p);
    // Byte by byte until the next interesting one (at most 8 plain bytes after skip_plain).
    while (p < end_ && static_cast<unsigned char>(*p) >= 0x20 && static_cast<unsigned char>(*p) < 0x80 &&
           *p != '"' && *p != '\\')
      ++p;
    if (p >= end_) return fail(RejectReason::invalid_json, p);
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c == '"') {
      raw = std::string_view(start, static_cast<std::size_t>(p - start));
      ++p;
      return true;
    }
    if (c == '\\') {
      escaped = true;
      if (!scan_escape(p)) return false;
    } else if (c < 0x20) {
      return fail(RejectReason::invalid_json, p);  // raw control characters are not JSON
    } else if (!scan_utf8(p)) {
      return false;
    }
  }
}

void JsonScanner::unescape(std::string_view raw, std::string& out) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out += raw[i];
      continue;
    }
    const char e = raw[++i];
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        unsigned cp = 0;
        read_hex4(raw.data() + i + 1, cp);
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {  // validated: a low surrogate follows
          unsigned low = 0;
          read_hex4(raw.data() + i + 3, low);
          i += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        append_utf8(out, cp);
        break;
      }
      default: out += e;  // '"', '\\', '/'
    }
  }
}

std::string_view JsonScanner::text_of(std::string_view raw, bool escaped) {
  if (!escaped) return raw;
  if (unescaped_used_ == unescaped_.size()) unescaped_.emplace_back();
  std::string& slot = unescaped_[unescaped_used_++];
  slot.clear();
  unescape(raw, slot);
  return slot;
}

bool JsonScanner::scan_number(const char*& p, std::string_view& token) {
  const char* start = p;
  auto digit = [&] { return p < end_ && *p >= '0' && *p <= '9'; };
  if (p < end_ && *p == '-') ++p;
  if (!digit()) return fail(RejectReason::invalid_json, p);
  if (*p == '0') {
    ++p;
  } else {
    while (digit()) ++p;
  }
  if (p < end_ && *p == '.') {
    ++p;
    if (!digit()) return fail(RejectReason::invalid_json, p);
    while (digit()) ++p;
  }
  if (p < end_ && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end_ && (*p == '+' || *p == '-')) ++p;
    if (!digit()) return fail(RejectReason::invalid_json, p);
    while (digit()) ++p;
  }
  token = std::string_view(start, static_cast<std::size_t>(p - start));
  return true;
}

bool JsonScanner::end_keys(const char* at) {
  const std::size_t start = key_frames_.back();
  key_frames_.pop_back();
  const std::size_t count = keys_.size() - start;
  bool duplicate = false;
  if (count <= 16) {
    // Typical objects are small: comparing lengths first makes the pairwise check cheap.
    for (std::size_t a = start; a < keys_.size() && !duplicate; ++a)
      for (std::size_t b = a + 1; b < keys_.size(); ++b)
        if (keys_[a] == keys_[b]) { duplicate = true; break; }
  } else {
    // Hash and sort: a hostile object with 100k keys stays O(k log k), not O(k^2).
    hashed_.clear();
    for (std::size_t i = start; i < keys_.size(); ++i) hashed_.push_back({fnv1a(keys_[i]), keys_[i]});
    std::sort(hashed_.begin(), hashed_.end(), [](const HashedKey& x, const HashedKey& y) {
      return x.hash != y.hash ? x.hash < y.hash : x.text < y.text;
    });
    for (std::size_t i = 1; i < hashed_.size() && !duplicate; ++i)
      duplicate = hashed_[i].hash == hashed_[i - 1].hash && hashed_[i].text == hashed_[i - 1].text;
  }
  keys_.resize(start);
  return duplicate ? fail(RejectReason::duplicate_key, at) : true;
}

bool JsonScanner::fits_double(std::string_view token) {
  std::size_t i = token.empty() || token[0] != '-' ? 0 : 1;
  const std::size_t int_begin = i;
  while (i < token.size() && token[i] >= '0' && token[i] <= '9') ++i;
  const std::size_t int_digits = i - int_begin;
  std::int64_t lead = 0;  // decimal exponent of the first significant digit
  bool zero = false;
  if (token[int_begin] != '0') {
    lead = static_cast<std::int64_t>(int_digits) - 1;
  } else {
    std::size_t j = i + (i < token.size() && token[i] == '.' ? 1 : 0);
    const std::size_t frac_begin = j;
    while (j < token.size() && token[j] == '0') ++j;
    zero = j >= token.size() || token[j] < '1' || token[j] > '9';
    lead = -static_cast<std::int64_t>(j - frac_begin) - 1;
  }
  while (i < token.size() && token[i] != 'e' && token[i] != 'E') ++i;
  std::int64_t exp = 0;
  if (i < token.size()) {
    ++i;
    const bool minus = token[i] == '-';
    if (token[i] == '-' || token[i] == '+') ++i;
    while (i < token.size() && token[i] == '0') ++i;
    if (token.size() - i > 3) return false;  // 4+ significant exponent digits: beyond +-999
    for (; i < token.size(); ++i) exp = exp * 10 + (token[i] - '0');
    // Down to e-999 every reader gives a subnormal or 0 (the JS SDK writes Number.MIN_VALUE
    // as 5e-324); up, past e308 RapidJSON 1.1.0 fails (1e309, 0e999).
    if (!minus && exp > 308) return false;
    if (minus) exp = -exp;
  }
  if (zero) return true;
  lead += exp;
  if (lead < 308) return true;
  if (lead > 308) return false;
  double value = 0;  // 1e308 .. 9.99e308: only the exact conversion knows
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  return ec == std::errc() && ptr == token.data() + token.size() && std::isfinite(value);
}

bool JsonScanner::skip_value(const char*& p, std::size_t depth, const std::vector<std::string>* redact_keys,
                             bool kept) {
  const std::size_t base = stack_.size();
  const char* redact_start = nullptr;   // value of a redacted key being scanned
  std::size_t redact_level = 0;
  bool redact_next = false;              // the key just read matched
  enum class State { value, key, after };
  State state = State::value;
  for (;;) {
    switch (state) {
      case State::value: {
        skip_ws(p);
        if (p >= end_) return fail(RejectReason::invalid_json, p);
        if (redact_next) {
          redact_start = p;
          redact_level = stack_.size();
          redact_next = false;
        }
        const char c = *p;
        if (c == '{' || c == '[') {
          if (depth + (stack_.size() - base) + 1 > max_depth_) return fail(RejectReason::too_deep, p);
          stack_.push_back(c);
          ++p;
          skip_ws(p);
          if (c == '{') {
            begin_keys();
            if (p < end_ && *p == '}') {
              stack_.pop_back();
              if (!end_keys(p)) return false;
              ++p;
              state = State::after;
            } else {
              state = State::key;
            }
          } else if (p < end_ && *p == ']') {
            ++p;
            stack_.pop_back();
            state = State::after;
          }
          break;
        }
        std::string_view token;
        bool escaped;
        if (c == '"') {
          if (!scan_string(p, token, escaped)) return false;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          if (!scan_number(p, token)) return false;
          if (kept && !fits_double(token)) return fail(RejectReason::bad_field, token.data());
        } else if (c == 't') {
          if (!scan_literal(p, "true")) return false;
        } else if (c == 'f') {
          if (!scan_literal(p, "false")) return false;
        } else if (c == 'n') {
          if (!scan_literal(p, "null")) return false;
        } else {
          return fail(RejectReason::invalid_json, p);
        }
        state = State::after;
        break;
      }
      case State::key: {
        skip_ws(p);
        if (p >= end_ || *p != '"') return fail(RejectReason::invalid_json, p);
        std::string_view raw;
        bool escaped;
        if (!scan_string(p, raw, escaped)) return false;
        const std::string_view key = text_of(raw, escaped);
        add_key(key);
        if (redact_keys != nullptr && redact_start == nullptr) {
          for (const auto& k : *redact_keys)
            if (equals_lowercase(key, k)) { redact_next = true; break; }
        }
        skip_ws(p);
        if (p >= end_ || *p != ':') return fail(RejectReason::invalid_json, p);
        ++p;
        state = State::value;
        break;
      }
      case State::after: {
        if (redact_start != nullptr && stack_.size() == redact_level) {
          redactions_.emplace_back(static_cast<std::size_t>(redact_start - begin_), static_cast<std::size_t>(p - begin_));
          redact_start = nullptr;
        }
        if (stack_.size() == base) return true;
        skip_ws(p);
        if (p >= end_) return fail(RejectReason::invalid_json, p);
        const char top = stack_.back();
        if (*p == ',') {
          ++p;
          state = top == '{' ? State::key : State::value;
        } else if ((top == '{' && *p == '}') || (top == '[' && *p == ']')) {
          stack_.pop_back();
          if (top == '{' && !end_keys(p)) return false;
          ++p;
        } else {
          return fail(RejectReason::invalid_json, p);
        }
        break;
      }
    }
  }
}

}  // namespace tracecol::protocol
