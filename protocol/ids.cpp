#include "protocol/ids.hpp"

#include <array>

namespace tracecol::protocol {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

/** Digit values of '0'-'9', 'a'-'f', 'A'-'F'; 0xff for every other byte. */
constexpr std::array<std::uint8_t, 256> hex_values = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>(c - 'A' + 10);
  return t;
}();

/** Folds up to 16 hex digits into a value; false on a non-hex character. */
bool fold_hex(std::string_view hex, std::uint64_t& out) {
  std::uint64_t v = 0;
  std::uint8_t bad = 0;
  for (char c : hex) {
    const std::uint8_t d = hex_values[static_cast<unsigned char>(c)];
    bad |= d;  // 0xff has the high bit set; digits never do
    v = (v << 4) | (d & 0xfu);
  }
  out = v;
  return (bad & 0x80) == 0;
}

void append_u64_hex(std::string& out, std::uint64_t v) {
  char buf[16];
  for (int i = 15; i >= 0; --i) {
    buf[i] = hex_digits[v & 0xf];
    v >>= 4;
  }
  out.append(buf, 16);
}

}  // namespace

std::string TraceId::hex() const {
  std::string out;
  out.reserve(32);
  append_hex(out);
  return out;
}

void TraceId::append_hex(std::string& out) const {
  append_u64_hex(out, hi);
  append_u64_hex(out, lo);
}

std::string span_id_hex(SpanId id) {
  std::string out;
  out.reserve(16);
  append_u64_hex(out, id);
  return out;
}

void append_span_id_hex(std::string& out, SpanId id) { append_u64_hex(out, id); }

std::optional<TraceId> parse_trace_id(std::string_view hex) {
  if (hex.empty() || hex.size() > 32) return std::nullopt;
  TraceId id;
  const std::size_t split = hex.size() > 16 ? hex.size() - 16 : 0;
  if (!fold_hex(hex.substr(0, split), id.hi) || !fold_hex(hex.substr(split), id.lo)) return std::nullopt;
  if (!id) return std::nullopt;
  return id;
}

std::optional<SpanId> parse_span_id(std::string_view hex) {
  if (hex.empty() || hex.size() > 16) return std::nullopt;
  SpanId id = 0;
  if (!fold_hex(hex, id) || id == 0) return std::nullopt;
  return id;
}

}  // namespace tracecol::protocol
