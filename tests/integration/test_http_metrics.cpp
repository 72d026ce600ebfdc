// /metrics on the real daemon: HTTP connection gauges and counters, the export latency
// histogram against what the file exporter wrote, and OTLP ingest rejections. Every
// scrape is read with the strict exposition reader.

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"
#include "tests/unit/http/prometheus_text.hpp"

using namespace tracecol::integration;
namespace prom = tracecol::test::prometheus;

namespace {

const double t0 = 1732500000.0;
const std::string json_type = "Content-Type: application/json\r\n";

/** One /metrics answer over `c`, strictly parsed (a parse error fails the test). */
prom::Exposition scrape(HttpClient& c) {
  auto r = c.request("GET", "/metrics");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  prom::Exposition x = prom::parse(r->body);
  std::string errors;
  for (const auto& e : x.errors) errors += e + "\n";
  INFO(errors);
  CHECK(x.errors.empty());
  return x;
}

/** A scrape on a fresh connection (which itself counts as one open connection). */
prom::Exposition scrape(const HttpDaemon& h) {
  HttpClient c(h.port);
  REQUIRE(c.connected());
  return scrape(c);
}

double value(const prom::Exposition& x, const std::string& name, const prom::Labels& labels = {}) {
  return x.value(name, labels).value_or(-1);
}

/** An open connection the server has certainly accepted (it answered a request on it). */
std::unique_ptr<HttpClient> open_connection(int port) {
  auto c = std::make_unique<HttpClient>(port);
  REQUIRE(c->connected());
  auto r = c->request("GET", "/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  return c;
}

std::string otlp_span(const std::string& trace, const std::string& span, const std::string& start) {
  return R"({"traceId":")" + trace + R"(","spanId":")" + span + R"(","name":"s","kind":1,)" + start +
         R"("endTimeUnixNano":"1732500000250000000"})";
}

std::string otlp_request(const std::vector<std::string>& spans) {
  std::string list;
  for (const auto& s : spans) list += (list.empty() ? "" : ",") + s;
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + list + "]}]}]}";
}

const std::string good_start = R"("startTimeUnixNano":"1732500000000000000",)";

}  // namespace

TEST_SUITE("http metrics") {
TEST_CASE("the HTTP connection gauge follows open connections and the total counts each accepted one") {
  TempDir dir;
  HttpDaemon h(dir, {});
  // HttpDaemon found the port from the log; no connection has been made yet.
  auto first = scrape(h);
  CHECK(value(first, "tracecol_http_connections_active") == 1);  // the scrape's own
  CHECK(value(first, "tracecol_http_connections_total") == 1);
  CHECK(value(first, "tracecol_http_connections_refused_total") == 0);

  std::vector<std::unique_ptr<HttpClient>> open;
  for (int i = 0; i < 3; ++i) open.push_back(open_connection(h.port));
  // The first scrape's connection may not have been seen closing yet.
  prom::Exposition busy;
  CHECK(wait_until([&] {
    busy = scrape(*open[0]);
    return value(busy, "tracecol_http_connections_active") == 3;
  }));
  CHECK(value(busy, "tracecol_http_connections_total") == 4);

  open[1]->close();
  open[2]->close();
  prom::Exposition after;
  CHECK(wait_until([&] {
    after = scrape(*open[0]);
    return value(after, "tracecol_http_connections_active") == 1;
  }));
  CHECK(value(after, "tracecol_http_connections_total") == 4);
  CHECK(value(after, "tracecol_http_requests_total", {{"route", "healthz"}, {"code", "200"}}) == 3);
}

TEST_CASE("connections over --http-max-connections are refused and counted") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-max-connections", "2"});
  auto a = open_connection(h.port);
  auto b = open_connection(h.port);
  for (int i = 0; i < 3; ++i) {
    HttpClient over(h.port);
    auto refused = over.read_response();
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(over.wait_eof());
  }
  auto full = scrape(*a);
  CHECK(value(full, "tracecol_http_connections_refused_total") == 3);
  CHECK(value(full, "tracecol_http_connections_active") == 2);
  CHECK(value(full, "tracecol_http_connections_total") == 5);

  b->close();
  CHECK(wait_until([&] { return value(scrape(*a), "tracecol_http_connections_active") == 1; }));
  auto c = open_connection(h.port);  // a slot is free again
  auto later = scrape(*c);
  CHECK(value(later, "tracecol_http_connections_refused_total") == 3);
  CHECK(value(later, "tracecol_http_connections_active") == 2);
}

TEST_CASE("a connection cut off by the request timeout is counted") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-timeout", "300ms"});
  CHECK(value(scrape(h), "tracecol_http_timeouts_total") == 0);
  HttpClient slow(h.port);
  REQUIRE(slow.connected());
  REQUIRE(slow.send("GET /api/traces HTTP/1.1\r\nHost: t\r\n"));  // never finishes its header
  CHECK(slow.wait_eof());
  // Fresh connections per scrape are closed by the client at once, never idle long enough to be cut.
  CHECK(wait_until([&] { return value(scrape(h), "tracecol_http_timeouts_total") >= 1; }));
  // The cut connection is gone (the last scrape's own may take a moment to be seen closing).
  CHECK(wait_until([&] { return value(scrape(h), "tracecol_http_connections_active") == 1; }));
}

TEST_CASE("the export latency histogram counts every trace the file exporter wrote") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  HttpDaemon h(dir, {"--export-file", out});
  constexpr int traces = 25;
  {
    SocketClient c(h.daemon.socket_path());
    REQUIRE(c.connected());
    std::string lines;
    for (int i = 1; i <= traces; ++i) {
      const std::string id = std::string("e").append(std::to_string(i));
      lines += span_line(SpanSpec(id, "1").run("run-e").named("root").at(t0 + i, t0 + i + 0.01));
      lines += span_line(SpanSpec(id, "2", "1").run("run-e").named("child").at(t0 + i, t0 + i + 0.005));
      lines += trace_end_line(id);
    }
    REQUIRE(c.write_all(lines));
    auto f = c.flush(1);
    REQUIRE(f);
    CHECK(f->accepted == 3 * traces);
  }
  const prom::Labels ndjson = {{"exporter", "ndjson"}};
  // Drained: everything sent and nothing queued or in flight.
  prom::Exposition x;
  REQUIRE(wait_until([&] {
    x = scrape(h);
    return value(x, "tracecol_exporter_sent_traces_total", ndjson) == traces &&
           value(x, "tracecol_exporter_queue_depth", ndjson) == 0;
  }));
  CHECK(count_lines(out) == traces);
  CHECK(value(x, "tracecol_export_latency_seconds_count", ndjson) == traces);
  CHECK(value(x, "tracecol_export_latency_seconds_bucket", {{"exporter", "ndjson"}, {"le", "+Inf"}}) == traces);
  CHECK(value(x, "tracecol_export_latency_seconds_sum", ndjson) > 0);
  CHECK(value(x, "tracecol_exporter_retried_total", ndjson) == 0);
}

TEST_CASE("OTLP spans received and rejected are counted by a bounded reason") {
  TempDir dir;
  HttpDaemon h(dir, {"--export-file", dir.file("out.ndjson"), "--max-spans-per-trace", "2"});
  const std::string trace = "5b8efff798038103d269b633813fc60c";
  HttpClient c(h.port);
  // One good span, a bad traceId, a missing start time.
  const std::string mixed = otlp_request({otlp_span(trace, "eee19b7ec3c1b174", good_start),
                                          otlp_span("xyz", "eee19b7ec3c1b175", good_start),
                                          otlp_span(trace, "eee19b7ec3c1b176", "")});
  auto posted = c.request("POST", "/v1/traces", mixed, json_type);
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->body.find(R"("rejectedSpans":"2")") != std::string::npos);
  // Three valid spans of another trace where two are allowed: the pipeline refuses one.
  const std::string other = "6b8efff798038103d269b633813fc60c";
  const std::string over = otlp_request({otlp_span(other, "0000000000000001", good_start),
                                         otlp_span(other, "0000000000000002", good_start),
                                         otlp_span(other, "0000000000000003", good_start)});
  auto capped = c.request("POST", "/v1/traces", over, json_type);
  REQUIRE(capped);
  CHECK(capped->body.find(R"("rejectedSpans":"1")") != std::string::npos);
  // Refused whole: protobuf, and a body that is not JSON.
  CHECK(c.request("POST", "/v1/traces", std::string("\x0a\x00", 2), "Content-Type: application/x-protobuf\r\n")
            ->status == 415);
  CHECK(c.request("POST", "/v1/traces", "not json", json_type)->status == 400);

  auto x = scrape(c);
  CHECK(value(x, "tracecol_otlp_spans_received_total") == 6);
  CHECK(value(x, "tracecol_otlp_spans_rejected_total", {{"reason", "invalid_span"}}) == 2);
  CHECK(value(x, "tracecol_otlp_spans_rejected_total", {{"reason", "too_many_spans"}}) == 1);
  CHECK(value(x, "tracecol_otlp_requests_rejected_total", {{"reason", "unsupported_content"}}) == 1);
  CHECK(value(x, "tracecol_otlp_requests_rejected_total", {{"reason", "invalid_body"}}) == 1);
  CHECK(value(x, "tracecol_otlp_requests_rejected_total", {{"reason", "corrupt_gzip"}}) == 0);
  const prom::Family* reasons = x.family("tracecol_otlp_spans_rejected_total");
  REQUIRE(reasons != nullptr);
  CHECK(reasons->samples.size() == 2);  // only the reasons that can happen here
}
}
