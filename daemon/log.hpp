#pragma once
// stderr logging: "2026-11-25T07:30:00.123Z info  message". Thread-safe (one write per line).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace tracecol::daemon {

enum class LogLevel { debug, info, warn, error };

/** Parses debug|info|warn|error; false for anything else. */
bool parse_log_level(std::string_view text, LogLevel& out);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

/**
 * Untrusted text (a peer's answer) fit for a log line: its first max_bytes, anything but
 * printable ASCII (terminal escapes, binary, UTF-8) shown as '?'.
 */
std::string printable_for_log(std::string_view text, std::size_t max_bytes = 200);

/** printf-style; the line is written with a single write(2) so threads never interleave. */
void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

/**
 * Lets at most `per_second` messages through per second; counts the rest so the next
 * message that passes can say how many were suppressed. Thread-safe, lock-free.
 */
class RateLimiter {
 public:
  explicit RateLimiter(std::uint32_t per_second) : per_second_(per_second) {}
  /** True when the caller may log; *suppressed gets the count dropped since the last pass. */
  bool allow(std::uint64_t* suppressed);
  /** The same at a given second (steady clock); for tests. */
  bool allow_at(std::int64_t now_s, std::uint64_t* suppressed);

 private:
  std::uint32_t per_second_;
  std::atomic<std::int64_t> window_{0};
  std::atomic<std::uint32_t> used_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace tracecol::daemon
