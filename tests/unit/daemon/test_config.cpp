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
    CHECK(d::parse_size("1MB") == 1'000'000u);
    CHECK(d::parse_size("4096") == 4096u);
    CHECK_FALSE(d::parse_size("lots").has_value());
    CHECK_FALSE(d::parse_size("-5").has_value());
    CHECK_FALSE(d::parse_size("").has_value());
  }

  TEST_CASE("has the documented defaults, console on when no exporter is named") {
    d::Config c;
    CHECK(parse(c, {}) == "");
    CHECK(c.socket == "/tmp/tracecol.sock");
    CHECK(c.socket_mode == 0660);
    CHECK(c.max_traces == 1000);
    CHECK(c.max_line_bytes == 1u << 20);
    CHECK(c.max_store_bytes == 256u << 20);
    CHECK(c.max_trace_bytes == 64u << 20);  // a quarter of the store
    CHECK(c.max_line_buffer_bytes == 64u << 20);
    CHECK(c.trace_linger == std::chrono::nanoseconds(1s));
    CHECK(c.trace_idle_timeout == std::chrono::nanoseconds(5min));
    CHECK(c.export_console);
    CHECK(c.export_file.empty());
    CHECK(c.file_mode == "traces");
    CHECK(c.file_max_bytes == 0);
    CHECK(c.file_max_backups == 5);
    CHECK(c.max_spans_per_trace == 10000);
    CHECK(c.max_connections == 1024);
    CHECK(c.sample_rate == doctest::Approx(1.0));
    CHECK(c.sample_keep_errors);
    CHECK_FALSE(c.no_inputs);
    CHECK_FALSE(c.no_outputs);
    CHECK(c.redact_keys.empty());
    CHECK_FALSE(c.no_default_redact);
    CHECK(c.export_queue == 10000);
    CHECK(c.threads == 2);
    CHECK(c.log_level == "info");
  }

  TEST_CASE("reads every flag given on the command line") {
    d::Config c;
    CHECK(parse(c, {"--socket", "/tmp/a.sock", "--socket-mode", "0600", "--export-console", "--export-file", "/tmp/o.ndjson",
                    "--file-mode", "spans", "--file-max-bytes", "64KiB", "--file-max-backups", "3", "--max-traces", "5",
                    "--max-store-bytes", "1GiB", "--max-spans-per-trace", "9", "--max-line-bytes", "1MB",
                    "--max-connections", "7", "--trace-linger", "250ms", "--trace-idle-timeout", "1h",
                    "--sample-rate", "0.25", "--sample-keep-errors", "false", "--no-inputs", "--no-outputs",
                    "--no-default-redact", "--export-queue", "11", "--threads", "4", "--log-level", "debug"}) == "");
    CHECK(c.socket == "/tmp/a.sock");
    CHECK(c.socket_mode == 0600);
    CHECK(c.export_console);  // named explicitly, so it stays on next to the file
    CHECK(c.export_file == "/tmp/o.ndjson");
    CHECK(c.file_mode == "spans");
    CHECK(c.file_max_bytes == 64u * 1024);
    CHECK(c.file_max_backups == 3);
    CHECK(c.max_traces == 5);
    CHECK(c.max_store_bytes == 1024u * 1024 * 1024);
    CHECK(c.max_spans_per_trace == 9);
    CHECK(c.max_line_bytes == 1'000'000u);
    CHECK(c.max_connections == 7);
    CHECK(c.trace_linger == std::chrono::nanoseconds(250ms));
    CHECK(c.trace_idle_timeout == std::chrono::nanoseconds(1h));
    CHECK(c.sample_rate == doctest::Approx(0.25));
    CHECK_FALSE(c.sample_keep_errors);
    CHECK(c.no_inputs);
    CHECK(c.no_outputs);
    CHECK(c.no_default_redact);
    CHECK(c.export_queue == 11);
    CHECK(c.threads == 4);
    CHECK(c.log_level == "debug");
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
    std::ofstream(path) << "socket = \"/tmp/file.sock\"\nmax-traces = 7\nsample-rate = 0.5\n"
                           "trace-linger = \"250ms\"\nmax-line-bytes = \"64KiB\"\nsample-keep-errors = false\n"
                           "redact-key = [\"ssn\", \"card\"]\n";
    d::Config c;
    CHECK(parse(c, {"--config", path}) == "");
    std::filesystem::remove(path);
    CHECK(c.socket == "/tmp/file.sock");
    CHECK(c.max_traces == 7);
    CHECK(c.sample_rate == doctest::Approx(0.5));
    CHECK(c.trace_linger == std::chrono::nanoseconds(250ms));
    CHECK(c.max_line_bytes == 64u * 1024);
    CHECK_FALSE(c.sample_keep_errors);
    CHECK(c.redact_keys == std::vector<std::string>{"ssn", "card"});
  }

  TEST_CASE("refuses a config file key that names no flag") {
    const std::string path = "/tmp/tracecol-config-typo-test.toml";
    std::ofstream(path) << "max-tracez = 5\n";
    d::Config c;
    const std::string error = parse(c, {"--config", path});
    std::filesystem::remove(path);
    CHECK(error.find("max-tracez") != std::string::npos);
  }

  TEST_CASE("--max-trace-bytes follows --max-store-bytes unless set and never exceeds it") {
    d::Config a;
    CHECK(parse(a, {"--max-store-bytes", "32MiB"}) == "");
    CHECK(a.max_trace_bytes == 8u << 20);
    d::Config b;
    CHECK(parse(b, {"--max-store-bytes", "32MiB", "--max-trace-bytes", "32MiB"}) == "");
    CHECK(b.max_trace_bytes == 32u << 20);
    d::Config c;
    CHECK(parse(c, {"--max-store-bytes", "32MiB", "--max-trace-bytes", "33MiB"}).find("--max-trace-bytes") !=
          std::string::npos);
    d::Config e;
    CHECK(parse(e, {"--max-trace-bytes", "big"}).find("--max-trace-bytes") != std::string::npos);
  }

  TEST_CASE("--max-line-buffer-bytes must hold one whole line of --max-line-bytes") {
    d::Config a;
    CHECK(parse(a, {"--max-line-bytes", "8MiB", "--max-line-buffer-bytes", "4MiB"}).find("--max-line-buffer-bytes") !=
          std::string::npos);
    d::Config b;
    CHECK(parse(b, {"--max-line-bytes", "8MiB", "--max-line-buffer-bytes", "16MiB"}) == "");
    CHECK(b.max_line_buffer_bytes == 16u << 20);
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
    for (const char* nan : {"nan", "NaN", "-nan"}) {
      d::Config not_a_number;
      CHECK(parse(not_a_number, {"--sample-rate", nan}).find("--sample-rate") != std::string::npos);
    }
    for (const char* listen : {"127.0.0.1:99999", "nonsense", "127.0.0.1:", "300.1.1.1:80", "host.example:80"}) {
      CAPTURE(listen);
      d::Config bad_listen;
      CHECK(parse(bad_listen, {"--http-listen", listen}).find("--http-listen") != std::string::npos);
    }
    for (const char* listen : {"off", "unix:/tmp/x.sock", "127.0.0.1:0", ":4318", "[::1]:4318", "localhost:80"}) {
      CAPTURE(listen);
      d::Config good_listen;
      CHECK(parse(good_listen, {"--http-listen", listen}).empty());
    }
    d::Config units;
    const std::string size_error = parse(units, {"--max-store-bytes", "12 parsecs"});
    CHECK(size_error.find("TiB/T") != std::string::npos);  // the message lists the units
    d::Config tib;
    CHECK(parse(tib, {"--max-store-bytes", "1TiB", "--max-trace-bytes", "1GiB"}).empty());
    CHECK(tib.max_store_bytes == (std::uint64_t{1} << 40));
    d::Config idle;
    CHECK(parse(idle, {"--export-http-header", "Authorization: Bearer x", "--http-listen", "off", "--http-token-file", "/nonexistent"}).empty());
    REQUIRE(idle.warnings.size() == 2);
    CHECK(idle.warnings[0].find("without --export-http") != std::string::npos);
    CHECK(idle.warnings[1].find("--http-listen off") != std::string::npos);
    d::Config creds;
    const std::string why = parse(creds, {"--export-http", "http://user:hunter2@collector:4318/v1/traces"});
    CHECK(why.find("--export-http http://***@collector:4318/v1/traces") != std::string::npos);
    CHECK(why.find("hunter2") == std::string::npos);
    d::Config f;
    CHECK(parse(f, {"--file-mode", "lines"}).find("parse") != std::string::npos);
    d::Config g;
    CHECK(parse(g, {"--socket-mode", "0999"}).find("--socket-mode") != std::string::npos);
    d::Config h;
    CHECK(parse(h, {"--socket-mode", "01777"}).find("--socket-mode") != std::string::npos);
    d::Config i;
    CHECK(parse(i, {"--max-store-bytes", "12 parsecs"}).find("--max-store-bytes") != std::string::npos);
    d::Config j;
    CHECK(parse(j, {"--trace-idle-timeout", "0s"}).find("--trace-idle-timeout") != std::string::npos);
    d::Config k;
    CHECK(parse(k, {"--threads", "0"}).find("parse") != std::string::npos);
    d::Config l;
    CHECK(parse(l, {"--log-level", "loud"}).find("parse") != std::string::npos);
    d::Config m;
    CHECK(parse(m, {"--sample-keep-errors", "perhaps"}).find("parse") != std::string::npos);
    d::Config n;
    CHECK(parse(n, {"--max-traces", "-3"}).find("parse") != std::string::npos);
    d::Config o;
    CHECK(parse(o, {"--no-such-flag"}).find("parse") != std::string::npos);
  }

  TEST_CASE("an environment variable with a bad value is refused like the flag") {
    ::setenv("TRACECOL_MAX_LINE_BYTES", "enormous", 1);
    d::Config c;
    const std::string error = parse(c, {});
    ::unsetenv("TRACECOL_MAX_LINE_BYTES");
    CHECK(error.find("--max-line-bytes") != std::string::npos);
  }

  TEST_CASE("the command line wins over the environment") {
    ::setenv("TRACECOL_SOCKET", "/tmp/env.sock", 1);
    d::Config c;
    CHECK(parse(c, {"--socket", "/tmp/flag.sock"}) == "");
    ::unsetenv("TRACECOL_SOCKET");
    CHECK(c.socket == "/tmp/flag.sock");
  }

  TEST_CASE("lower-cases redact keys and adds them to the defaults") {
    d::Config c;
    CHECK(parse(c, {"--redact-key", "SSN", "--redact-key", "Card"}) == "");
    CHECK(c.redact_keys == std::vector<std::string>{"ssn", "card"});
    CHECK_FALSE(c.no_default_redact);
  }
}
