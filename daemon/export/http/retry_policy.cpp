#include "daemon/export/http/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace tracecol::exporters::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

template <typename Int>
bool to_int(std::string_view s, Int& out) {
  if (!all_digits(s)) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

/** "Wed, 21 Oct 2015 07:28:00 GMT" (RFC 9110 IMF-fixdate), exactly 29 bytes. */
std::optional<std::chrono::system_clock::time_point> parse_imf_fixdate(std::string_view s) {
  static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  unsigned day = 0, hour = 0, minute = 0, second = 0;
  int year = 0;
  if (!to_int(s.substr(5, 2), day) || !to_int(s.substr(12, 4), year) || !to_int(s.substr(17, 2), hour) ||
      !to_int(s.substr(20, 2), minute) || !to_int(s.substr(23, 2), second))
    return std::nullopt;
  const auto m = std::find(months.begin(), months.end(), s.substr(8, 3));
  if (m == months.end() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(m - months.begin()) + 1),
                                        std::chrono::day(day)};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second);
}

}  // namespace

Outcome classify_status(unsigned status) {
  if (status >= 200 && status < 300) return Outcome::ok;
  if (status == 429 || status == 502 || status == 503 || status == 504) return Outcome::retryable_status;
  return Outcome::permanent_status;
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, unsigned retry, std::mt19937_64& rng) {
  const std::int64_t initial = std::max<std::int64_t>(policy.initial.count(), 1);
  const std::int64_t cap = std::max<std::int64_t>(policy.max.count(), initial);
  // Doubling stops at the cap, so no shift overflows however many retries there were.
  std::int64_t ceiling = initial;
  for (unsigned i = 0; i < retry && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  std::uniform_int_distribution<std::int64_t> draw(0, ceiling);
  return std::chrono::milliseconds(draw(rng));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  value = trim(value);
  std::int64_t seconds = 0;
  if (all_digits(value)) {
    // A huge delta-seconds is still a valid "later": clamp instead of failing.
    if (value.size() > 12 || !to_int(value, seconds)) return std::chrono::seconds(999'999'999'999);
    return std::chrono::seconds(seconds);
  }
  const auto when = parse_imf_fixdate(value);
  if (!when) return std::nullopt;
  if (*when <= now) return std::chrono::seconds(0);
  // Round up: retrying a fraction of a second early would just earn another 503.
  return std::chrono::ceil<std::chrono::seconds>(*when - now);
}

std::optional<std::chrono::milliseconds> next_delay(Outcome outcome, std::optional<std::chrono::seconds> retry_after,
                                                    unsigned retry, std::chrono::milliseconds remaining,
                                                    const BackoffPolicy& policy, std::mt19937_64& rng) {
  if (!retryable(outcome) || remaining.count() <= 0) return std::nullopt;
  std::chrono::milliseconds delay = retry_after && outcome == Outcome::retryable_status
                                        ? std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after)
                                        : backoff_delay(policy, retry, rng);
  if (delay >= remaining) return std::nullopt;
  return delay;
}

}  // namespace tracecol::exporters::http
