// tracecol::client end to end: the real daemon receives what the C++ client sends, in its
// NDJSON file and over GET /api/traces; flush is confirmed; the client survives the daemon
// being away, arriving late and restarting; many threads deliver exact counts.

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client/cpp/socket_exporter.hpp"
#include "client/cpp/tracer.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;
namespace tc = tracecol::client;

namespace {

tc::TracingConfig client_config(const std::string& socket_path) {
  tc::TracingConfig c;
  c.enabled = true;
  c.socket_path = socket_path;
  c.reconnect_max = std::chrono::milliseconds(50);
  c.service_name = "cpp-integration";
  return c;
}

/** Sum of span_count over the trace records of an NDJSON file (follow-ups included). */
std::size_t spans_in(const NdjsonFile& f) {
  std::size_t n = 0;
  for (const auto& r : f.records) n += static_cast<std::size_t>(num(r, "span_count"));
  return n;
}

}  // namespace

TEST_SUITE("client_cpp") {
TEST_CASE("spans reach the daemon's NDJSON file and GET /api/traces with every field") {
  TempDir dir;
  const std::string file = dir.file("out.ndjson");
  HttpDaemon h(dir, {"--export-file", file});
  ::setenv("TRACECOL_SOCKET", h.daemon.socket_path().c_str(), 1);  // the config names no socket
  tc::TracingConfig c;
  c.enabled = true;
  tc::Tracer tracer(c);
  ::unsetenv("TRACECOL_SOCKET");
  std::string trace_id;
  {
    auto trace = tracer.start_trace("run-42");
    trace_id = trace.trace_id().hex();
    auto root = trace.start_span("agent.run", tc::SpanKind::AGENT, tc::JsonObject().add("task", "say \"hi\"\n"),
                                 tc::JsonObject().add("model", "m-1"));
    {
      auto llm = tracer.start_span("llm.complete", tc::SpanKind::LLM, tc::JsonObject().add("prompt", "h\xC3\xA9llo \xFF"));
      llm.finish(tc::JsonObject().add("text", "hello").add("tokens", 12));
    }
    auto fetch = tracer.traced("tool.fetch", tc::SpanKind::TOOL, [](const std::string& url) -> int {
      throw std::runtime_error("404 for " + url);
    });
    CHECK_THROWS_AS(fetch("https://example.com"), std::runtime_error);
  }
  REQUIRE(tracer.flush(default_deadline));
  auto* sock = dynamic_cast<tc::SocketExporter*>(tracer.exporter());
  REQUIRE(sock != nullptr);
  CHECK(sock->stats().daemon_accepted == 4);  // 3 spans + trace_end
  CHECK(sock->stats().daemon_rejected == 0);

  REQUIRE(wait_until([&] { return count_lines(file) >= 1; }));
  const NdjsonFile f = read_ndjson(file);
  const auto recs = records_for(f, trace_id);
  REQUIRE(recs.size() == 1);
  const auto& t = *recs[0];
  CHECK(str(t, "run_id") == "run-42");
  CHECK(flag(t, "complete"));
  CHECK(num(t, "span_count") == 3);
  CHECK(num(t, "error_count") == 1);
  const auto& spans = t["spans"];
  REQUIRE(spans.Size() == 3);
  CHECK(str(spans[0], "name") == "agent.run");
  CHECK(str(spans[0], "kind") == "AGENT");
  CHECK(is_null(spans[0], "parent_id"));
  CHECK(raw(spans[0], "inputs") == R"({"task":"say \"hi\"\n"})");
  // The agent's metadata, then the daemon's peer keys (docs/security.md).
  CHECK(raw(spans[0], "metadata") == R"({"model":"m-1","peer.pid":)" + std::to_string(::getpid()) +
                                         R"(,"peer.uid":)" + std::to_string(::getuid()) + "}");
  CHECK(str(spans[1], "name") == "llm.complete");
  CHECK(str(spans[1], "kind") == "LLM");
  CHECK(str(spans[1], "parent_id") == str(spans[0], "span_id"));
  CHECK(str(spans[1]["inputs"], "prompt") == "h\xC3\xA9llo \xEF\xBF\xBD");
  CHECK(raw(spans[1], "outputs") == R"({"text":"hello","tokens":12})");
  CHECK(str(spans[2], "name") == "tool.fetch");
  CHECK(str(spans[2], "kind") == "TOOL");
  CHECK(str(spans[2], "error") == "404 for https://example.com");
  CHECK(raw(spans[2], "inputs") == R"({"arg0":"https://example.com"})");
  CHECK(str(spans[2], "span_id").size() == 16);
  CHECK(str(t, "trace_id") == trace_id);

  auto listed = h.get("/api/traces?run_id=run-42");
  REQUIRE(listed);
  CHECK(listed->status == 200);
  CHECK(listed->body.find(trace_id) != std::string::npos);
  auto tree = h.get("/api/traces/" + trace_id + "/tree");
  REQUIRE(tree);
  CHECK(tree->body.find("agent.run [") != std::string::npos);
  CHECK(tree->body.find("  tool.fetch [") != std::string::npos);
}

TEST_CASE("flush is confirmed by the daemon and counts every line, with no daemon it times out") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {"--export-file", dir.file("out.ndjson")});
  REQUIRE(d.wait_ready());
  auto sock = std::make_shared<tc::SocketExporter>(client_config(d.socket_path()));
  tc::Tracer tracer(client_config(d.socket_path()), sock);
  for (int i = 0; i < 500; ++i) { auto s = tracer.start_span("s", tc::SpanKind::CUSTOM, tc::JsonObject().add("i", i)); }
  REQUIRE(tracer.flush(default_deadline));
  CHECK(sock->stats().daemon_accepted == 1000);
  CHECK(sock->stats().daemon_rejected == 0);

  tc::Tracer orphan(client_config(dir.file("nobody.sock")));
  { auto s = orphan.start_span("lost"); }
  CHECK(!orphan.flush(std::chrono::milliseconds(100)));
}

TEST_CASE("a daemon started after the agent receives everything the client buffered meanwhile") {
  TempDir dir;
  const std::string socket = dir.file("s.sock");
  const std::string file = dir.file("out.ndjson");
  auto sock = std::make_shared<tc::SocketExporter>(client_config(socket));
  tc::Tracer tracer(client_config(socket), sock);
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    auto trace = tracer.start_trace("early");
    ids.insert(trace.trace_id().hex());
    auto root = trace.start_span("agent.run", tc::SpanKind::AGENT);
    auto child = root.child("tool", tc::SpanKind::TOOL);
  }
  // Recording never waited for the daemon: everything is queued, nothing connected.
  CHECK(sock->stats().connects == 0);
  CHECK(sock->stats().enqueued_lines == 600);
  CHECK(sock->stats().dropped_lines == 0);

  Daemon d(dir, socket, {"--export-file", file});
  REQUIRE(d.wait_ready());
  REQUIRE(tracer.flush(default_deadline));
  CHECK(sock->stats().daemon_accepted == 600);
  REQUIRE(wait_until([&] { return count_lines(file) >= 200; }));
  const NdjsonFile f = read_ndjson(file);
  CHECK(f.records.size() == 200);
  CHECK(spans_in(f) == 400);
  for (const auto& r : f.records) CHECK(ids.count(str(r, "trace_id")) == 1);
}

TEST_CASE("a daemon restart mid-stream: the client reconnects and the new daemon gets the later spans") {
  TempDir dir;
  const std::string socket = dir.file("s.sock");
  auto sock = std::make_shared<tc::SocketExporter>(client_config(socket));
  tc::Tracer tracer(client_config(socket), sock);
  auto send = [&](const std::string& run, int n) {
    for (int i = 0; i < n; ++i) {
      auto trace = tracer.start_trace(run);
      auto root = trace.start_span("agent.run", tc::SpanKind::AGENT);
    }
  };
  {
    Daemon first(dir, socket, {"--export-file", dir.file("first.ndjson")});
    REQUIRE(first.wait_ready());
    send("before", 100);
    REQUIRE(tracer.flush(default_deadline));
    CHECK(sock->stats().daemon_accepted == 200);
    REQUIRE(first.terminate().has_value());
  }
  REQUIRE(wait_until([&] { return sock->stats().connection_losses >= 1; }));
  send("between", 50);  // daemon away: buffered
  Daemon second(dir, socket, {"--export-file", dir.file("second.ndjson")});
  REQUIRE(second.wait_ready());
  send("after", 50);
  REQUIRE(tracer.flush(default_deadline));
  CHECK(sock->stats().connects == 2);
  CHECK(sock->stats().dropped_lines == 0);
  REQUIRE(wait_until([&] { return count_lines(dir.file("second.ndjson")) >= 100; }));
  const NdjsonFile f = read_ndjson(dir.file("second.ndjson"));
  std::size_t between = 0, after = 0, before = 0;
  for (const auto& r : f.records) {
    const std::string run = str(r, "run_id");
    between += run == "between" ? 1 : 0;
    after += run == "after" ? 1 : 0;
    before += run == "before" ? 1 : 0;
  }
  CHECK(between == 50);
  CHECK(after == 50);
  CHECK(before == 0);
  CHECK(read_ndjson(dir.file("first.ndjson")).records.size() == 100);
}

TEST_CASE("eight threads of nested spans arrive in the daemon with exact counts") {
  TempDir dir;
  const std::string file = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", file, "--max-traces", "100000"});
  REQUIRE(d.wait_ready());
  auto sock = std::make_shared<tc::SocketExporter>(client_config(d.socket_path()));
  tc::Tracer tracer(client_config(d.socket_path()), sock);
  constexpr int threads_n = 8, traces = 250, children = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_n; ++t)
    threads.emplace_back([&tracer, t] {
      for (int i = 0; i < traces; ++i) {
        auto trace = tracer.start_trace("thread-" + std::to_string(t));
        auto root = trace.start_span("agent.run", tc::SpanKind::AGENT, tc::JsonObject().add("i", i));
        for (int c = 0; c < children; ++c) {
          auto child = tracer.start_span("tool.call", tc::SpanKind::TOOL);
          child.finish(tc::JsonObject().add("c", c));
        }
      }
    });
  for (auto& th : threads) th.join();
  REQUIRE(tracer.flush(default_deadline));
  constexpr std::size_t lines = std::size_t{threads_n} * traces * (children + 2);
  CHECK(sock->stats().dropped_lines == 0);
  CHECK(sock->stats().daemon_accepted == lines);
  CHECK(sock->stats().daemon_rejected == 0);
  REQUIRE(wait_until([&] { return count_lines(file) >= std::size_t{threads_n} * traces; }));
  const NdjsonFile f = read_ndjson(file);
  CHECK(f.records.size() == std::size_t{threads_n} * traces);
  CHECK(spans_in(f) == std::size_t{threads_n} * traces * (children + 1));
  std::size_t orphans = 0;
  for (const auto& r : f.records)
    for (const auto& s : r["spans"].GetArray()) orphans += flag(s, "orphan") ? 1 : 0;
  CHECK(orphans == 0);
}
}
