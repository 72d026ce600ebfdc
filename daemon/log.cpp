#include "daemon/log.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace tracecol::daemon {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info ";
    case LogLevel::warn: return "warn ";
    case LogLevel::error: return "error";
  }
  return "?";
}

}  // namespace

std::string printable_for_log(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (const char c : text.substr(0, max_bytes)) out += c >= 0x20 && c < 0x7f ? c : '?';
  return out;
}

bool parse_log_level(std::string_view text, LogLevel& out) {
  if (text == "debug") out = LogLevel::debug;
  else if (text == "info") out = LogLevel::info;
  else if (text == "warn" || text == "warning") out = LogLevel::warn;
  else if (text == "error") out = LogLevel::error;
  else return false;
  return true;
}

void set_log_level(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

bool log_enabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

void log(LogLevel level, const char* format, ...) {
  if (!log_enabled(level)) return;
  char line[4096];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  int n = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                        utc.tm_min, utc.tm_sec, ts.tv_nsec / 1000000, level_name(level));
  va_list args;
  va_start(args, format);
  int m = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, format, args);
  va_end(args);
  std::size_t len = static_cast<std::size_t>(n) +
                    std::min<std::size_t>(m < 0 ? 0 : static_cast<std::size_t>(m),
                                          sizeof line - static_cast<std::size_t>(n) - 2);
  line[len++] = '\n';
  // A failed log write has nowhere to be reported; ignoring it is the only option.
  [[maybe_unused]] ssize_t w = ::write(STDERR_FILENO, line, len);
}

bool RateLimiter::allow(std::uint64_t* suppressed) {
  return allow_at(std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now().time_since_epoch()).count(),
                  suppressed);
}

bool RateLimiter::allow_at(std::int64_t now_s, std::uint64_t* suppressed) {
  std::int64_t window = window_.load(std::memory_order_relaxed);
  if (window != now_s && window_.compare_exchange_strong(window, now_s)) {
    used_.store(0, std::memory_order_relaxed);
  }
  if (used_.fetch_add(1, std::memory_order_relaxed) < per_second_) {
    *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace tracecol::daemon
