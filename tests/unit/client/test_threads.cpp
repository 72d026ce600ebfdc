// Many threads starting and finishing spans at once: exact counts, unique ids, intact
// parent links, through the in-memory and the socket exporter. (Also run under TSan.)

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/cpp/memory_exporter.hpp"
#include "client/cpp/socket_exporter.hpp"
#include "client/cpp/tracer.hpp"
#include "tests/unit/client/fake_daemon.hpp"

using namespace tracecol::client;
using namespace std::chrono_literals;

namespace {

constexpr int threads_n = 8;
constexpr int traces_per_thread = 200;
constexpr int children = 4;

void run_agents(const Tracer& tracer) {
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_n; ++t)
    threads.emplace_back([&tracer, t] {
      for (int i = 0; i < traces_per_thread; ++i) {
        auto trace = tracer.start_trace("run-" + std::to_string(t));
        auto root = trace.start_span("agent.run", SpanKind::AGENT, JsonObject().add("thread", t).add("i", i));
        for (int c = 0; c < children; ++c) {
          auto child = tracer.start_span("tool", SpanKind::TOOL);
          child.finish(JsonObject().add("c", c));
        }
      }
    });
  for (auto& th : threads) th.join();
}

}  // namespace

TEST_SUITE("client threads") {
TEST_CASE("eight threads of nested spans arrive exactly once with unique ids and correct parents") {
  auto mem = std::make_shared<InMemoryExporter>();
  TracingConfig c;
  c.enabled = true;
  Tracer tracer(c, mem);
  run_agents(tracer);
  const auto spans = mem->spans();
  CHECK(spans.size() == std::size_t{threads_n} * traces_per_thread * (children + 1));
  CHECK(mem->traces().size() == std::size_t{threads_n} * traces_per_thread);
  std::set<SpanId> ids;
  std::map<SpanId, const SpanRecord*> by_id;
  for (const auto& s : spans) {
    ids.insert(s.span_id);
    by_id[s.span_id] = &s;
  }
  CHECK(ids.size() == spans.size());
  std::size_t bad_parents = 0;
  for (const auto& s : spans) {
    if (s.name == "agent.run") {
      bad_parents += s.parent_id != 0 ? 1 : 0;
    } else {
      const auto it = by_id.find(s.parent_id);
      bad_parents += (it == by_id.end() || it->second->name != "agent.run" || !(it->second->trace_id == s.trace_id)) ? 1 : 0;
    }
  }
  CHECK(bad_parents == 0);
}

TEST_CASE("spans finished on another thread than the one that started them are delivered") {
  auto mem = std::make_shared<InMemoryExporter>();
  TracingConfig c;
  c.enabled = true;
  Tracer tracer(c, mem);
  auto root = tracer.start_span("root");
  std::vector<Span> started;
  for (int i = 0; i < 16; ++i) started.push_back(root.child("work"));
  std::vector<std::thread> threads;
  for (auto& s : started) threads.emplace_back([&s] { s.finish(JsonObject().add("done", true)); });
  for (auto& th : threads) th.join();
  root.finish();
  started.clear();
  CHECK(mem->spans().size() == 17);
}

TEST_CASE("eight threads through the socket exporter: the daemon side accepts exactly every line") {
  const std::string path = testing::temp_socket_path("threads");
  testing::FakeDaemon daemon(path);
  REQUIRE(daemon.ok());
  TracingConfig c;
  c.enabled = true;
  c.socket_path = path;
  auto sock = std::make_shared<SocketExporter>(c);
  Tracer tracer(c, sock);
  run_agents(tracer);
  REQUIRE(tracer.flush(30s));
  const std::size_t expected = std::size_t{threads_n} * traces_per_thread * (children + 2);
  CHECK(sock->stats().dropped_lines == 0);
  CHECK(daemon.accepted() == expected);
  CHECK(daemon.rejected() == 0);
  CHECK(sock->stats().daemon_accepted == expected);
}
}
