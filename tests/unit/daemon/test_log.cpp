#include <doctest/doctest.h>

#include <unistd.h>

#include <regex>
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

}  // namespace

TEST_SUITE("log") {
  TEST_CASE("writes one line per message: UTC time with milliseconds, padded level, text") {
    d::set_log_level(d::LogLevel::info);
    const std::string out = capture_stderr([] {
      d::log(d::LogLevel::info, "listening on unix:%s (mode %04o)", "/tmp/x.sock", 0660u);
      d::log(d::LogLevel::error, "bad %d", 7);
    });
    const std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info |error) .*\n)");
    const auto first_end = out.find('\n') + 1;
    CHECK(std::regex_match(out.substr(0, first_end), line));
    CHECK(std::regex_match(out.substr(first_end), line));
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
