// Request targets and methods on the real daemon, from a hostile-input probe: dots in the
// query are search text, not a traversal; run ids holding '/' or '..' can be looked up.

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
}
