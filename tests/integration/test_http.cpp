// The HTTP API on the real daemon: queries after socket ingest, POST /api/spans (plain and
// gzip), /metrics, error statuses, and a slow client cut off by the request timeout.

#include <doctest/doctest.h>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"
#include "tests/support/gzip_compress.hpp"

using namespace tracecol::integration;
using tracecol::testing::gzip_compress;

namespace {

const double t0 = 1732500000.0;

/** Three traces over the socket: two of run-a (one with an error), one of run-b with a TOOL span. */
void send_traces(const Daemon& d) {
  SocketClient c(d.socket_path());
  REQUIRE(c.connected());
  std::string lines;
  lines += span_line(SpanSpec("a1", "1").run("run-a").named("plan").of_kind("AGENT").at(t0, t0 + 0.010));
  lines += trace_end_line("a1");
  lines += span_line(SpanSpec("a2", "1").run("run-a").named("act").of_kind("AGENT").at(t0 + 1, t0 + 1.200));
  lines += span_line(SpanSpec("a2", "2", "1").run("run-a").named("llm").of_kind("LLM").at(t0 + 1.01, t0 + 1.1)
                         .with(R"("error":"rate limited")"));
  lines += trace_end_line("a2");
  lines += span_line(SpanSpec("b1", "1").run("run-b").named("search").of_kind("TOOL").at(t0 + 2, t0 + 2.05));
  lines += trace_end_line("b1");
  REQUIRE(c.write_all(lines));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == 7);
}

std::string metric_line(const std::string& text, const std::string& name) {
  const std::size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return {};
  return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

}  // namespace

TEST_SUITE("http") {
TEST_CASE("queries list, filter, get, tree and run the traces sent over the socket") {
  TempDir dir;
  HttpDaemon h(dir, {"--export-console"});
  send_traces(h.daemon);

  auto health = h.get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == R"({"status":"ok"})");
  CHECK(h.get("/readyz")->status == 200);

  auto all = h.get("/api/traces");
  REQUIRE(all);
  CHECK(all->status == 200);
  CHECK(all->headers["content-type"] == "application/json");
  const auto pos = [&](const std::string& body, const std::string& id) { return body.find(trace_hex(id)); };
  CHECK(pos(all->body, "b1") < pos(all->body, "a2"));  // newest first
  CHECK(pos(all->body, "a2") < pos(all->body, "a1"));
  CHECK(all->body.find(R"("next_cursor":null)") != std::string::npos);

  auto limited = h.get("/api/traces?limit=2");
  CHECK(limited->body.find(trace_hex("a1")) == std::string::npos);
  CHECK(limited->body.find("\"next_cursor\":\"" + trace_hex("a2") + "\"") != std::string::npos);
  auto next = h.get("/api/traces?limit=2&cursor=" + trace_hex("a2"));
  CHECK(next->body.find(trace_hex("a1")) != std::string::npos);
  CHECK(next->body.find(trace_hex("b1")) == std::string::npos);

  auto errors = h.get("/api/traces?error=true");
  CHECK(errors->body.find(trace_hex("a2")) != std::string::npos);
  CHECK(errors->body.find(trace_hex("a1")) == std::string::npos);
  auto run = h.get("/api/traces?run_id=run-b&kind=tool");
  CHECK(run->body.find(trace_hex("b1")) != std::string::npos);
  CHECK(run->body.find(trace_hex("a2")) == std::string::npos);
  auto slow = h.get("/api/traces?min_duration_ms=100");
  CHECK(slow->body.find(trace_hex("a2")) != std::string::npos);
  CHECK(slow->body.find(trace_hex("b1")) == std::string::npos);
  CHECK(h.get("/api/traces?limit=5000")->status == 400);
  // since / until bound the trace's start, both ends inclusive; the epoch (0) is a bound
  // like any other, not "unset".
  auto window = h.get("/api/traces?since=1732500001&until=1732500001.5");
  CHECK(window->body.find(trace_hex("a2")) != std::string::npos);
  CHECK(window->body.find(trace_hex("a1")) == std::string::npos);
  CHECK(window->body.find(trace_hex("b1")) == std::string::npos);
  CHECK(h.get("/api/traces?until=0")->body.starts_with(R"({"traces":[])"));
  CHECK(h.get("/api/traces?since=0")->body.find(trace_hex("a1")) != std::string::npos);
  CHECK(h.get("/api/traces?since=soon")->status == 400);

  auto one = h.get("/api/traces/a2");
  REQUIRE(one);
  CHECK(one->status == 200);
  auto doc = parse_ndjson(one->body + "\n");
  REQUIRE(doc.records.size() == 1);
  CHECK(str(doc.records[0], "run_id") == "run-a");
  CHECK(num(doc.records[0], "span_count") == 2);
  CHECK(num(doc.records[0], "error_count") == 1);
  auto missing = h.get("/api/traces/" + trace_hex("ff"));
  CHECK(missing->status == 404);
  CHECK(missing->body == R"({"error":"trace not found"})");
  CHECK(h.get("/api/traces/not-a-hex-id")->status == 400);

  auto tree = h.get("/api/traces/a2/tree");
  REQUIRE(tree);
  CHECK(tree->status == 200);
  CHECK(tree->headers["content-type"].starts_with("text/plain"));
  CHECK(tree->body.starts_with("[Trace 000000a2] run_id=run-a\n"));
  REQUIRE(wait_until([&] { return h.daemon.out().find("[Trace 000000a2]") != std::string::npos; }));
  CHECK(h.daemon.out().find(tree->body) != std::string::npos);  // the console exporter's text

  auto runs = h.get("/api/runs/run-a");
  REQUIRE(runs);
  CHECK(runs->status == 200);
  CHECK(runs->body.starts_with(R"({"run_id":"run-a","traces":[{"trace_id":")" + trace_hex("a1")));
  CHECK(runs->body.find(trace_hex("a2")) != std::string::npos);
  CHECK(h.get("/api/runs/none")->status == 404);
}

TEST_CASE("a 10,000-deep span chain gives /tree and console text linear in its size") {
  TempDir dir;
  HttpDaemon h(dir, {"--export-console"});
  SocketClient c(h.daemon.socket_path());
  REQUIRE(c.connected());
  constexpr int n = 10000;  // --max-spans-per-trace's default: each span the parent of the next
  std::string lines;
  for (int i = 1; i <= n; ++i)
    lines += span_line(SpanSpec("d33", hex(static_cast<unsigned>(i), 4), i == 1 ? "" : hex(static_cast<unsigned>(i - 1), 4))
                           .named("x").at(t0, t0 + 0.001));
  lines += trace_end_line("d33");
  REQUIRE(c.write_all(lines));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == n + 1);

  auto tree = h.get("/api/traces/d33/tree");
  REQUIRE(tree);
  CHECK(tree->status == 200);
  INFO("input " << lines.size() << " bytes, /tree " << tree->body.size() << " bytes");
  // Two spaces a level without bound made this 100 MB; now each line is at most the capped
  // indent (48), a "[depth 9999] " marker and "x [1ms]".
  CHECK(tree->body.size() < lines.size());
  const std::string indent(48, ' ');
  CHECK(tree->body.find("\n" + indent + "x [1ms]\n" + indent + "[depth 25] x [1ms]\n") != std::string::npos);
  CHECK(tree->body.ends_with("\n" + indent + "[depth 9999] x [1ms]\n"));
  // The console exporter prints the same text.
  REQUIRE(wait_until([&] { return h.daemon.out().find("[depth 9999] x [1ms]\n") != std::string::npos; }));
  CHECK(h.daemon.out().size() < lines.size());
  CHECK(h.daemon.out().find(tree->body) != std::string::npos);
}

TEST_CASE("POST /api/spans applies the lines before answering and /metrics counts them") {
  TempDir dir;
  HttpDaemon h(dir, {"--export-file", dir.file("out.ndjson")});
  std::string body;
  body += span_line(SpanSpec("c1", "1").run("run-c").named("root").at(t0, t0 + 0.5));
  body += "not json\n";
  body += span_line(SpanSpec("c1", "2", "1").run("run-c").named("child").at(t0 + 0.1, t0 + 0.2));
  body += trace_end_line("c1");
  HttpClient c(h.port);
  auto posted = c.request("POST", "/api/spans", body, "Content-Type: application/x-ndjson\r\n");
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->body == R"({"accepted":3,"rejected":1,"errors":[{"line":2,"reason":"invalid_json"}]})");
  // Same connection (keep-alive): the trace is queryable at once.
  auto got = c.request("GET", "/api/traces/c1");
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(got->body.find("\"span_count\":2") != std::string::npos);

  REQUIRE(wait_until([&] { return count_lines(dir.file("out.ndjson")) >= 1; }));
  std::string metrics;
  REQUIRE(wait_until([&] {
    auto m = h.get("/metrics");
    metrics = m ? m->body : "";
    return metric_line(metrics, "tracecol_exporter_sent_traces_total{exporter=\"ndjson\"}").ends_with(" 1");
  }));
  CHECK(metric_line(metrics, "tracecol_lines_received_total") == "tracecol_lines_received_total 4");
  CHECK(metric_line(metrics, "tracecol_events_accepted_total") == "tracecol_events_accepted_total 3");
  CHECK(metric_line(metrics, "tracecol_lines_rejected_total{reason=\"invalid_json\"}").ends_with(" 1"));
  CHECK(metric_line(metrics, "tracecol_traces_completed_total") == "tracecol_traces_completed_total 1");
  CHECK(metric_line(metrics, "tracecol_store_traces") == "tracecol_store_traces 1");
  CHECK(metric_line(metrics, "tracecol_store_spans") == "tracecol_store_spans 2");
  CHECK(metric_line(metrics, "tracecol_connections_active") == "tracecol_connections_active 0");
  CHECK(metric_line(metrics, "tracecol_exporter_queue_depth{exporter=\"ndjson\"}").ends_with(" 0"));
  CHECK(metric_line(metrics, "tracecol_http_requests_total{route=\"spans\",code=\"200\"}").ends_with(" 1"));
  CHECK(metrics.find("# TYPE tracecol_traces_evicted_total counter") != std::string::npos);
  // The operator hears of the rejected line, as from the socket (never its bytes).
  CHECK(h.daemon.err().find("POST /api/spans: 1 of 4 line(s) rejected, first: line 2 invalid_json") != std::string::npos);
  CHECK(h.daemon.err().find("not json") == std::string::npos);
}

TEST_CASE("POST /api/spans inflates a gzip body as /v1/traces does and answers 415 for another Content-Encoding") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-max-body", "8KiB"});
  HttpClient c(h.port);
  const std::string lines = span_line(SpanSpec("e1", "1").run("run-e").named("root").at(t0, t0 + 0.5)) +
                            span_line(SpanSpec("e1", "2", "1").run("run-e").named("child").at(t0 + 0.1, t0 + 0.2)) +
                            trace_end_line("e1");
  // No Content-Type: accepted as before.
  auto gz = c.request("POST", "/api/spans", gzip_compress(lines), "Content-Encoding: gzip\r\n");
  REQUIRE(gz);
  CHECK(gz->status == 200);
  CHECK(gz->body == R"({"accepted":3,"rejected":0,"errors":[]})");
  auto got = c.request("GET", "/api/traces/e1");
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(got->body.find("\"span_count\":2") != std::string::npos);

  auto plain = c.request("POST", "/api/spans", span_line(SpanSpec("e2", "1")), "Content-Encoding: Identity\r\n");
  REQUIRE(plain);
  CHECK(plain->body == R"({"accepted":1,"rejected":0,"errors":[]})");
  for (const std::string coding : {"br", "deflate", "gzip, gzip", "x-gzip"}) {
    CAPTURE(coding);
    HttpClient other(h.port);
    auto r = other.request("POST", "/api/spans", span_line(SpanSpec("e3", "1")), "Content-Encoding: " + coding + "\r\n");
    REQUIRE(r);
    CHECK(r->status == 415);
    CHECK(r->headers["content-type"] == "application/json");
    CHECK(r->body == R"({"error":"unsupported Content-Encoding: only gzip is supported"})");
  }
  // Two fields are one list: identity then gzip is not a body to read as text.
  auto two = c.request("POST", "/api/spans", gzip_compress(lines), "Content-Encoding: identity\r\nContent-Encoding: gzip\r\n");
  REQUIRE(two);
  CHECK(two->status == 415);
  auto corrupt = c.request("POST", "/api/spans", "\x1f\x8b not gzip", "Content-Encoding: gzip\r\n");
  REQUIRE(corrupt);
  CHECK(corrupt->status == 400);
  CHECK(corrupt->body == R"({"error":"corrupt gzip body"})");
  // Small on the wire, past --http-max-body once inflated.
  std::string big;
  while (big.size() <= 8 * 1024) big += span_line(SpanSpec("e4", std::to_string(big.size() + 1)));
  const std::string bomb = gzip_compress(big);
  REQUIRE(bomb.size() < 8 * 1024);
  auto too_big = c.request("POST", "/api/spans", bomb, "Content-Encoding: gzip\r\n");
  REQUIRE(too_big);
  CHECK(too_big->status == 413);
  CHECK(too_big->body == R"({"error":"decompressed request body too large"})");
  CHECK(h.get("/api/traces/e3")->status == 404);  // none of the refused bodies was applied
  CHECK(h.get("/api/traces/e4")->status == 404);
}

TEST_CASE("wrong method, oversized body, bad target and huge headers get their statuses") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-max-body", "1KiB"});
  HttpClient c(h.port);
  auto wrong = c.request("DELETE", "/api/traces");
  REQUIRE(wrong);
  CHECK(wrong->status == 405);
  CHECK(wrong->headers["allow"] == "GET, HEAD");
  CHECK(wrong->body == R"({"error":"method not allowed"})");
  CHECK(c.request("GET", "/api/spans")->headers["allow"] == "POST");
  CHECK(c.request("GET", "/nothing")->status == 404);
  CHECK(c.request("GET", "/api/../etc/passwd")->status == 400);
  CHECK(c.request("GET", "/api/traces?name=a%00b")->status == 400);

  HttpClient big(h.port);
  // Only the header is sent: the limit is decided from Content-Length before any body byte.
  REQUIRE(big.send("POST /api/spans HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n"));
  auto too_big = big.read_response();
  REQUIRE(too_big);
  CHECK(too_big->status == 413);
  CHECK(too_big->body.find("\"error\"") != std::string::npos);

  HttpClient headers(h.port);
  std::string big_header = "X-Big: ";  // appended, not concatenated: GCC 12 -Warray-bounds false positive
  big_header.append(64 * 1024, 'x').append("\r\n");
  auto huge = headers.request("GET", "/healthz", {}, big_header);
  REQUIRE(huge);
  CHECK(huge->status == 431);
}

TEST_CASE("a slow client is cut off by the request timeout while others are served") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-timeout", "300ms"});
  HttpClient slow(h.port);
  REQUIRE(slow.connected());
  REQUIRE(slow.send("GET /api/traces HTTP/1.1\r\nHost: localhost\r\n"));  // never finishes its header
  for (int i = 0; i < 5; ++i) {
    auto ok = h.get("/healthz");
    REQUIRE(ok);
    CHECK(ok->status == 200);
  }
  CHECK(slow.wait_eof());
  auto after = h.get("/api/traces");
  REQUIRE(after);
  CHECK(after->status == 200);
}

TEST_CASE("serves on a Unix socket and closes idle keep-alive connections at shutdown") {
  TempDir dir;
  const std::string path = dir.file("http.sock");
  Daemon d(dir, dir.file("s.sock"), {"--http-listen", "unix:" + path});
  REQUIRE(d.wait_ready());
  REQUIRE(wait_until([&] { return file_exists(path); }));
  HttpClient c(path);
  REQUIRE(c.connected());
  auto r = c.request("GET", "/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  d.signal(15);
  CHECK(c.wait_eof());
  auto status = d.wait_exit();
  REQUIRE(status);
  CHECK(exit_code(*status) == 0);
  CHECK_FALSE(file_exists(path));
}
}

TEST_SUITE("http") {
TEST_CASE("connections over --http-max-connections get 503 and a body sent after 100-continue is read") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-max-connections", "1"});
  HttpClient first(h.port);
  auto ok = first.request("GET", "/healthz");  // answered: this connection now holds the one slot
  REQUIRE(ok);
  CHECK(ok->status == 200);
  HttpClient second(h.port);
  auto busy = second.read_response();
  REQUIRE(busy);
  CHECK(busy->status == 503);
  CHECK(second.wait_eof());
  // Past the cap only a probe is served: a request head is answered 503 at once, its body never read.
  HttpClient post(h.port);
  REQUIRE(post.send("POST /api/spans HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n"));
  auto refused = post.read_response();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->body == R"({"error":"too many connections"})");
  CHECK(post.wait_eof());
  HttpClient probe(h.port);
  auto health = probe.request("GET", "/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->headers["connection"] == "close");
  HttpClient scrape(h.port);  // a scrape is served past the cap too: it shows the refusals
  auto metrics = scrape.request("GET", "/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->body.find("tracecol_http_connections_refused_total 2") != std::string::npos);

  const std::string body = span_line(SpanSpec("d1", "1").run("run-d").at(t0, t0 + 1)) + trace_end_line("d1");
  REQUIRE(first.send("POST /api/spans HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n"));
  auto go_on = first.read_response();
  REQUIRE(go_on);
  CHECK(go_on->status == 100);
  REQUIRE(first.send(body));
  auto posted = first.read_response();
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->body == R"({"accepted":2,"rejected":0,"errors":[]})");
}

TEST_CASE("a body its route would refuse is never asked for: the final status comes instead of 100") {
  TempDir dir;
  HttpDaemon h(dir, {});
  struct Case {
    std::string head;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST /no/such/route HTTP/1.1\r\n", 404},
      {"POST /api/traces HTTP/1.1\r\n", 405},
      {"POST /v1/traces HTTP/1.1\r\nContent-Type: application/x-protobuf\r\n", 415},
      {"POST /v1/traces HTTP/1.1\r\nContent-Type: text/plain\r\n", 415},
      {"POST /api/spans HTTP/1.1\r\nContent-Encoding: br\r\n", 415},
      {"POST /api/../x HTTP/1.1\r\n", 400},
  };
  for (const auto& c : cases) {
    CAPTURE(c.head);
    HttpClient client(h.port);
    REQUIRE(client.send(c.head + "Host: localhost\r\nExpect: 100-continue\r\nContent-Length: 10000000\r\n\r\n"));
    auto answer = client.read_response();
    REQUIRE(answer);
    CHECK(answer->status == c.status);
    CHECK(answer->headers["connection"] == "close");
    CHECK(client.wait_eof());
  }
  auto metrics = HttpClient(h.port).request("GET", "/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("tracecol_otlp_requests_rejected_total{reason=\"unsupported_content\"} 2") != std::string::npos);
}

TEST_CASE("an absolute-form target is routed by its path") {
  TempDir dir;
  HttpDaemon h(dir, {});
  HttpClient client(h.port);
  REQUIRE(client.send("GET http://127.0.0.1:" + std::to_string(h.port) + "/healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto health = client.read_response();
  REQUIRE(health);
  CHECK(health->status == 200);
  auto listed = client.request("GET", "http://localhost/api/traces?limit=1");
  REQUIRE(listed);
  CHECK(listed->status == 200);
}
}
