#include "protocol/ids.hpp"

namespace tracecol::protocol {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/** Folds up to 16 hex digits into a value; false on a non-hex character. */
bool fold_hex(std::string_view hex, std::uint64_t& out) {
  std::uint64_t v = 0;
  for (char c : hex) {
    const int d = hex_value(c);
    if (d < 0) return false;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  out = v;
  return true;
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
