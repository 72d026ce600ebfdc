// Request targets and methods on the real daemon, from a hostile-input probe: dots in the
// query are search text, not a traversal; run ids holding '/' or '..' can be looked up;
// HEAD is answered wherever GET is, but on the stream.

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

const double t0 = 1732500000.0;

/** Sends the lines over the socket and waits until the daemon applied them all. */
void send_lines(const Daemon& d, const std::string& lines, std::int64_t expect_accepted) {
  SocketClient c(d.socket_path());
  REQUIRE(c.connected());
  REQUIRE(c.write_all(lines));
  auto f = c.flush(1);
  REQUIRE(f);
  REQUIRE(f->accepted == expect_accepted);
}

}  // namespace

TEST_SUITE("http routes") {
TEST_CASE("dots in the query are search text: q=Loading..., name=a..b and a stream's q=... are served") {
  TempDir dir;
  HttpDaemon h(dir, {});
  send_lines(h.daemon,
             span_line(SpanSpec("d1", "1").named("a..b").at(t0, t0 + 1).with(R"("outputs":{"text":"Loading..."})")) +
                 trace_end_line("d1") + span_line(SpanSpec("d2", "1").named("other").at(t0, t0 + 1)) +
                 trace_end_line("d2"),
             4);
  for (const std::string target : {"/api/traces?q=Loading...", "/api/traces?name=a..b", "/api/traces?q=..."}) {
    CAPTURE(target);
    auto r = h.get(target);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.find(trace_hex("d1")) != std::string::npos);
    CHECK(r->body.find(trace_hex("d2")) == std::string::npos);
  }
  SseClient stream(h.port);
  CHECK(stream.open("/api/stream?q=...") == 200);

  // A ".." path segment, however spelled, is still refused.
  for (const std::string target : {"/api/../metrics", "/api/%2e%2e/metrics", "/ui/.%2E/index.html", "/api/traces/.."}) {
    CAPTURE(target);
    auto r = h.get(target);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(r->body == R"({"error":"request path holds a '..' segment"})");
  }
}

TEST_CASE("a run id holding '/' or '..' is looked up by its escaped path segment") {
  TempDir dir;
  HttpDaemon h(dir, {});
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"e1", "a/b"}, {"e2", "a..b"}, {"e3", "../x"}, {"e4", "a"}};
  std::string lines;
  for (const auto& [trace, run] : runs) lines += span_line(SpanSpec(trace, "1").run(run).at(t0, t0 + 1)) + trace_end_line(trace);
  send_lines(h.daemon, lines, 8);
  struct Lookup {
    const char* target;
    const char* trace;
    const char* run;
  };
  for (const Lookup& l : {Lookup{"/api/runs/a%2Fb", "e1", "a/b"}, Lookup{"/api/runs/a%2fb", "e1", "a/b"},
                          Lookup{"/api/runs/a..b", "e2", "a..b"}, Lookup{"/api/runs/..%2Fx", "e3", "../x"}}) {
    CAPTURE(l.target);
    auto r = h.get(l.target);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    auto doc = parse_ndjson(r->body + "\n");
    REQUIRE(doc.records.size() == 1);
    CHECK(str(doc.records[0], "run_id") == l.run);
    REQUIRE(doc.records[0].HasMember("traces"));
    CHECK(doc.records[0]["traces"].Size() == 1);
    CHECK(r->body.find(trace_hex(l.trace)) != std::string::npos);
  }
  // Unescaped, the '/' separates segments: no such route.
  auto split = h.get("/api/runs/a/b");
  REQUIRE(split);
  CHECK(split->status == 404);
  CHECK(split->body == R"({"error":"not found"})");
}

TEST_CASE("HEAD is answered like GET without a body on every GET route but the stream") {
  TempDir dir;
  HttpDaemon h(dir, {});
  send_lines(h.daemon, span_line(SpanSpec("f1", "1").run("run-f").at(t0, t0 + 1)) + trace_end_line("f1"), 2);
  // One keep-alive connection: a body sent after a HEAD answer would be read as the next answer.
  HttpClient c(h.port);
  for (const std::string& target : std::vector<std::string>{"/healthz", "/readyz", "/api/traces", "/api/traces/" + trace_hex("f1"),
                                   "/api/traces/f1/tree", "/api/runs/run-f", "/api/traces/" + trace_hex("ff"), "/",
                                   "/ui/app.js"}) {
    CAPTURE(target);
    auto get = c.request("GET", target);
    auto head = c.request("HEAD", target);
    REQUIRE(get);
    REQUIRE(head);
    CHECK(head->status == get->status);
    CHECK(head->headers["content-type"] == get->headers["content-type"]);
    CHECK(head->headers["content-length"] == std::to_string(get->body.size()));
    CHECK(head->body.empty());
  }
  // /metrics changes between two scrapes: its HEAD announces a length and sends no body.
  auto metrics = c.request("HEAD", "/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->headers["content-type"].starts_with("text/plain"));
  CHECK(std::stoul(metrics->headers["content-length"]) > 1000);
  auto after = c.request("GET", "/healthz");
  REQUIRE(after);
  CHECK(after->status == 200);
  CHECK(after->body == R"({"status":"ok"})");

  // The stream's answer never ends: HEAD gets 405, and Allow says what works.
  auto stream = c.request("HEAD", "/api/stream");
  REQUIRE(stream);
  CHECK(stream->status == 405);
  CHECK(stream->headers["allow"] == "GET");
  auto wrong = c.request("DELETE", "/healthz");
  REQUIRE(wrong);
  CHECK(wrong->status == 405);
  CHECK(wrong->headers["allow"] == "GET, HEAD");
  auto post_only = c.request("HEAD", "/api/spans");
  REQUIRE(post_only);
  CHECK(post_only->status == 405);
  CHECK(post_only->headers["allow"] == "POST");
}
}
