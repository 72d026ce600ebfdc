#include <doctest/doctest.h>

#include "daemon/config.hpp"

using namespace std::chrono_literals;
namespace d = tracecol::daemon;

namespace {

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

TEST_SUITE("config export http") {
  TEST_CASE("has the documented HTTP exporter defaults") {
    d::Config c;
    REQUIRE(parse(c, {}) == "");
    CHECK(c.export_http.empty());
    CHECK(c.export_http_format == "otlp");
    CHECK(c.export_http_timeout == std::chrono::nanoseconds(10s));
    CHECK(c.export_http_max_batch_traces == 512);
    CHECK(c.export_http_max_batch_bytes == 4ull << 20);
    CHECK(c.export_http_max_delay == std::chrono::nanoseconds(1s));
    CHECK(c.export_http_max_elapsed == std::chrono::nanoseconds(60s));
    CHECK(c.export_http_queue_traces == 10000);
    CHECK(c.export_http_queue_bytes == 64ull << 20);
    CHECK_FALSE(c.export_http_insecure);
  }

  TEST_CASE("reads repeatable URLs and headers and every HTTP exporter flag") {
    d::Config c;
    REQUIRE(parse(c, {"--export-http", "http://a:4318/v1/traces", "--export-http", "https://b/x",
                      "--export-http-format", "json", "--export-http-header", "Authorization: Bearer t0k",
                      "--export-http-header", "X-Tenant:acme", "--export-http-timeout", "2s",
                      "--export-http-max-batch-traces", "7", "--export-http-max-batch-bytes", "1MiB",
                      "--export-http-max-delay", "50ms", "--export-http-max-elapsed", "5m",
                      "--export-http-queue-traces", "99", "--export-http-queue-bytes", "2MiB",
                      "--export-http-insecure"}) == "");
    CHECK(c.export_http.size() == 2);
    CHECK(c.export_http_format == "json");
    REQUIRE(c.export_http_headers.size() == 2);
    CHECK(c.export_http_headers[0].first == "Authorization");
    CHECK(c.export_http_headers[0].second == "Bearer t0k");
    CHECK(c.export_http_headers[1].second == "acme");
    CHECK(c.export_http_timeout == std::chrono::nanoseconds(2s));
    CHECK(c.export_http_max_batch_traces == 7);
    CHECK(c.export_http_max_batch_bytes == 1ull << 20);
    CHECK(c.export_http_max_delay == std::chrono::nanoseconds(50ms));
    CHECK(c.export_http_max_elapsed == std::chrono::nanoseconds(5min));
    CHECK(c.export_http_queue_traces == 99);
    CHECK(c.export_http_queue_bytes == 2ull << 20);
    CHECK(c.export_http_insecure);
    CHECK_FALSE(c.export_console);  // an HTTP exporter alone turns the console default off
  }

  TEST_CASE("takes the HTTP exporter from TRACECOL_ environment variables") {
    ::setenv("TRACECOL_EXPORT_HTTP", "http://env:1/v1/traces", 1);
    ::setenv("TRACECOL_EXPORT_HTTP_MAX_DELAY", "20ms", 1);
    d::Config c;
    const std::string error = parse(c, {});
    ::unsetenv("TRACECOL_EXPORT_HTTP");
    ::unsetenv("TRACECOL_EXPORT_HTTP_MAX_DELAY");
    REQUIRE(error == "");
    REQUIRE(c.export_http.size() == 1);
    CHECK(c.export_http[0] == "http://env:1/v1/traces");
    CHECK(c.export_http_max_delay == std::chrono::nanoseconds(20ms));
  }

  TEST_CASE("refuses bad URLs, formats and headers without echoing header values") {
    d::Config a;
    CHECK(parse(a, {"--export-http", "ftp://x/"}).find("--export-http") != std::string::npos);
    d::Config b;
    CHECK(parse(b, {"--export-http-format", "xml"}).find("parse") != std::string::npos);
    d::Config c;
    const std::string e = parse(c, {"--export-http-header", "Bad Name: topsecret"});
    CHECK(e.find("--export-http-header") != std::string::npos);
    CHECK(e.find("topsecret") == std::string::npos);
    d::Config h;
    CHECK(parse(h, {"--export-http-header", "no-colon"}) != "");
    d::Config t;
    CHECK(parse(t, {"--export-http-timeout", "0"}).find("--export-http-timeout") != std::string::npos);
    d::Config q;
    CHECK(parse(q, {"--export-http-queue-bytes", "lots"}).find("--export-http-queue-bytes") != std::string::npos);
  }

  TEST_CASE("parses header lines: token name, trimmed value, no CR or LF") {
    CHECK(d::parse_header_line("X-Api-Key:  abc ") == std::optional(std::make_pair(std::string("X-Api-Key"), std::string("abc"))));
    CHECK_FALSE(d::parse_header_line(": v").has_value());
    CHECK_FALSE(d::parse_header_line("X: a\r\nInjected: 1").has_value());
    CHECK_FALSE(d::parse_header_line("X\n: a").has_value());
  }
}
