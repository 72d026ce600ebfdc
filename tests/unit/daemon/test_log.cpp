#include <doctest/doctest.h>

#include <unistd.h>

#include <cctype>
#include <string>

#include "daemon/log.hpp"

namespace d = tracecol::daemon;

namespace {

/** Runs fn with stderr redirected into a pipe; returns what was written. */
template <typename Fn>
std::string capture_stderr(Fn fn) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  return out;
}

/** "2026-11-25T07:30:00.123Z " then a five-wide level and a space, then text, then '\n'. */
bool well_formed(const std::string& line) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
  if (line.size() < shape.size() + 7 || line.back() != '\n') return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool ok = shape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(line[i])) != 0 : line[i] == shape[i];
    if (!ok) return false;
  }
  const std::string level = line.substr(shape.size(), 6);
  return level == "debug " || level == "info  " || level == "warn  " || level == "error ";
}

}  // namespace

TEST_SUITE("log") {
  TEST_CASE("writes one line per message: UTC time with milliseconds, padded level, text") {
    d::set_log_level(d::LogLevel::info);
    const std::string out = capture_stderr([] {
      d::log(d::LogLevel::info, "listening on unix:%s (mode %04o)", "/tmp/x.sock", 0660u);
      d::log(d::LogLevel::error, "bad %d", 7);
    });
    const auto first_end = out.find('\n') + 1;
    CHECK(well_formed(out.substr(0, first_end)));
    CHECK(well_formed(out.substr(first_end)));
    CHECK(out.find(" info  listening on unix:/tmp/x.sock (mode 0660)\n") != std::string::npos);
    CHECK(out.find(" error bad 7\n") != std::string::npos);
  }

  TEST_CASE("drops messages below the level") {
    d::set_log_level(d::LogLevel::warn);
    const std::string out = capture_stderr([] {
      d::log(d::LogLevel::info, "hidden");
      d::log(d::LogLevel::debug, "hidden");
      d::log(d::LogLevel::warn, "shown");
    });
    d::set_log_level(d::LogLevel::info);
    CHECK(out.find("hidden") == std::string::npos);
    CHECK(out.find("shown") != std::string::npos);
  }

  TEST_CASE("parses the four level names and refuses others") {
    d::LogLevel level{};
    CHECK(d::parse_log_level("debug", level));
    CHECK(level == d::LogLevel::debug);
    CHECK(d::parse_log_level("error", level));
    CHECK(level == d::LogLevel::error);
    CHECK_FALSE(d::parse_log_level("loud", level));
  }

  TEST_CASE("the rate limiter passes N a second and reports how many it held back") {
    d::RateLimiter limiter(5);
    std::uint64_t suppressed = 99;
    int passed = 0;
    for (int i = 0; i < 20; ++i) passed += limiter.allow_at(100, &suppressed) ? 1 : 0;
    CHECK(passed == 5);
    CHECK(suppressed == 0);
    CHECK(limiter.allow_at(101, &suppressed));
    CHECK(suppressed == 15);
    CHECK(limiter.allow_at(101, &suppressed));
    CHECK(suppressed == 0);
  }
}
