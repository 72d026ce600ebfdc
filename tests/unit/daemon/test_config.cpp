#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "daemon/config.hpp"

using namespace std::chrono_literals;
namespace d = tracecol::daemon;

namespace {

/** Parses argv like main() does; returns the finalize() error (empty when fine). */
std::string parse(d::Config& config, std::vector<std::string> args) {
  CLI::App app;
  d::add_options(app, config);
  std::vector<char*> argv;
  std::string name = "tracecol";
  argv.push_back(name.data());
  for (auto& a : args) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return std::string("parse: ") + e.what();
  }
  auto error = d::finalize(config);
  return error ? *error : "";
}

}  // namespace

TEST_SUITE("config") {
  TEST_CASE("reads durations in ms, s, m and h") {
    CHECK(d::parse_duration("250ms") == std::chrono::nanoseconds(250ms));
    CHECK(d::parse_duration("2s") == std::chrono::nanoseconds(2s));
    CHECK(d::parse_duration("5m") == std::chrono::nanoseconds(5min));
    CHECK(d::parse_duration("1h") == std::chrono::nanoseconds(1h));
    CHECK(d::parse_duration("1.5") == std::chrono::nanoseconds(1500ms));
    CHECK_FALSE(d::parse_duration("soon").has_value());
    CHECK_FALSE(d::parse_duration("-1s").has_value());
    CHECK_FALSE(d::parse_duration("5 parsecs").has_value());
  }

  TEST_CASE("reads sizes in binary and decimal units") {
    CHECK(d::parse_size("64KiB") == 64u * 1024);
    CHECK(d::parse_size("256MiB") == 256u * 1024 * 1024);
    CHECK(d::parse_size("1GiB") == 1024u * 1024 * 1024);
    CHECK(d::parse_size("10MB") == 10'000'000u);
    CHECK(d::parse_size("4096") == 4096u);
    CHECK_FALSE(d::parse_size("lots").has_value());
  }

  TEST_CASE("has the documented defaults, console on when no exporter is named") {
    d::Config c;
    CHECK(parse(c, {}) == "");
    CHECK(c.socket == "/tmp/tracecol.sock");
    CHECK(c.socket_mode == 0660);
    CHECK(c.max_traces == 1000);
    CHECK(c.max_line_bytes == 1u << 20);
    CHECK(c.max_store_bytes == 256u << 20);
    CHECK(c.trace_linger == std::chrono::nanoseconds(1s));
    CHECK(c.trace_idle_timeout == std::chrono::nanoseconds(5min));
    CHECK(c.export_console);
  }

  TEST_CASE("a named file exporter alone turns the console off") {
    d::Config c;
    CHECK(parse(c, {"--export-file", "/tmp/x.ndjson"}) == "");
    CHECK_FALSE(c.export_console);
  }

  TEST_CASE("takes every flag from TRACECOL_ environment variables") {
    ::setenv("TRACECOL_SOCKET", "/tmp/env.sock", 1);
    ::setenv("TRACECOL_MAX_TRACES", "42", 1);
    ::setenv("TRACECOL_TRACE_LINGER", "250ms", 1);
    d::Config c;
    CHECK(parse(c, {}) == "");
    ::unsetenv("TRACECOL_SOCKET");
    ::unsetenv("TRACECOL_MAX_TRACES");
    ::unsetenv("TRACECOL_TRACE_LINGER");
    CHECK(c.socket == "/tmp/env.sock");
    CHECK(c.max_traces == 42);
    CHECK(c.trace_linger == std::chrono::nanoseconds(250ms));
  }

  TEST_CASE("reads a config file whose keys are the flag names") {
    const std::string path = "/tmp/tracecol-config-test.toml";
    std::ofstream(path) << "socket = \"/tmp/file.sock\"\nmax-traces = 7\nsample-rate = 0.5\n";
    d::Config c;
    CHECK(parse(c, {"--config", path}) == "");
    std::filesystem::remove(path);
    CHECK(c.socket == "/tmp/file.sock");
    CHECK(c.max_traces == 7);
    CHECK(c.sample_rate == doctest::Approx(0.5));
  }

  TEST_CASE("rejects invalid values with a message naming the flag") {
    d::Config a;
    CHECK(parse(a, {"--socket-mode", "rwx"}).find("--socket-mode") != std::string::npos);
    d::Config b;
    CHECK(parse(b, {"--max-line-bytes", "huge"}).find("--max-line-bytes") != std::string::npos);
    d::Config c;
    CHECK(parse(c, {"--trace-linger", "later"}).find("--trace-linger") != std::string::npos);
    d::Config e;
    CHECK(parse(e, {"--sample-rate", "2"}).find("parse") != std::string::npos);
    d::Config f;
    CHECK(parse(f, {"--file-mode", "lines"}).find("parse") != std::string::npos);
  }

  TEST_CASE("lower-cases redact keys and adds them to the defaults") {
    d::Config c;
    CHECK(parse(c, {"--redact-key", "SSN", "--redact-key", "Card"}) == "");
    CHECK(c.redact_keys == std::vector<std::string>{"ssn", "card"});
    CHECK_FALSE(c.no_default_redact);
  }
}
