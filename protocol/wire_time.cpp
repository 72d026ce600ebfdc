#include "protocol/wire_time.hpp"

#include <charconv>
#include <cmath>

namespace tracecol::protocol {
namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;
// int64 nanoseconds end in April 2262; stay a little short of it.
constexpr std::int64_t max_seconds = 9'200'000'000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool parse_wire_nanos(std::string_view digits, std::int64_t& ns) {
  if (digits.empty() || digits.size() > 19) return false;
  for (char c : digits)
    if (!is_digit(c)) return false;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || v <= 0) return false;
  ns = v;
  return true;
}

bool parse_wire_seconds(std::string_view token, std::int64_t monotonic_offset_ns, std::int64_t& ns) {
  if (token.empty() || token.front() == '-') return false;  // negative, -0 included
  std::size_t i = 0;
  std::int64_t whole = 0;
  for (; i < token.size() && is_digit(token[i]); ++i) {
    // 11+ digits: past int64 nanoseconds, unless an exponent follows (checked below).
    whole = i < 11 ? whole * 10 + (token[i] - '0') : max_seconds;
  }
  std::int64_t frac = 0;
  if (i < token.size() && token[i] == '.') {
    ++i;
    std::size_t digits = 0;
    for (; i < token.size() && is_digit(token[i]); ++i, ++digits) {
      if (digits < 9) frac = frac * 10 + (token[i] - '0');
      else if (digits == 9 && token[i] >= '5') ++frac;  // round at the tenth digit
    }
    for (; digits < 9; ++digits) frac *= 10;
  }
  if (i < token.size()) {
    // An exponent: convert the whole token. A huge exponent ends as out_of_range here and
    // is refused, never turned into 0 or inf (the RapidJSON 1.1.0 crash, CVE-2024-38517).
    double seconds = 0;
    auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), seconds);
    if (ec != std::errc() || ptr != token.data() + token.size() || !std::isfinite(seconds) || seconds < 0 ||
        seconds >= static_cast<double>(max_seconds))
      return false;
    whole = static_cast<std::int64_t>(seconds);
    frac = std::llround((seconds - static_cast<double>(whole)) * 1e9);
  }
  if (whole >= max_seconds) return false;
  std::int64_t value = whole * ns_per_s + frac;
  // Below 1e9 s the agent sent CLOCK_MONOTONIC seconds: a sidecar shares its kernel's clock.
  if (whole < 1'000'000'000 && __builtin_add_overflow(value, monotonic_offset_ns, &value)) return false;
  if (value <= 0) return false;
  ns = value;
  return true;
}

}  // namespace tracecol::protocol
