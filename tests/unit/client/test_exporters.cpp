// The client's exporters: console format, in-memory traces, and the socket exporter
// against a stand-in daemon (batching, hello, flush/flushed, drops, no daemon at all).

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "client/cpp/console_exporter.hpp"
#include "client/cpp/memory_exporter.hpp"
#include "client/cpp/socket_exporter.hpp"
#include "client/cpp/tracer.hpp"
#include "tests/unit/client/fake_daemon.hpp"

using namespace tracecol::client;
using namespace std::chrono_literals;

namespace {

SpanRecord record(TraceId t, SpanId id, SpanId parent, std::string name, std::int64_t start_ms, std::int64_t end_ms) {
  SpanRecord s;
  s.trace_id = t;
  s.span_id = id;
  s.parent_id = parent;
  s.name = std::move(name);
  s.started_at_ns = 1'732'500'000'000'000'000 + start_ms * 1'000'000;
  s.ended_at_ns = 1'732'500'000'000'000'000 + end_ms * 1'000'000;
  return s;
}

TracingConfig socket_config(const std::string& path) {
  TracingConfig c;
  c.enabled = true;
  c.socket_path = path;
  return c;
}

}  // namespace

TEST_SUITE("client exporters") {
TEST_CASE("the console exporter prints the seed's format") {
  const TraceId t{0x3a7f1c2b00000000ULL, 1};
  auto fail = record(t, 4, 1, "tool.bad", 140, 141);
  fail.error = "timeout";
  const std::string text = ConsoleExporter::format(
      t, "run-42", {record(t, 3, 1, "tool.fetch", 130, 142), record(t, 1, 0, "agent.run", 0, 142),
                    record(t, 2, 1, "llm.complete", 5, 135), fail});
  CHECK(text ==
        "[Trace 3a7f1c2b] run_id=run-42\n"
        "agent.run [142ms]\n"
        "  llm.complete [130ms]\n"
        "  tool.fetch [12ms]\n"
        "  tool.bad [1ms] ERROR: timeout\n");
}

TEST_CASE("the console exporter writes a trace when it ends") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  {
    auto console = std::make_shared<ConsoleExporter>(fds[1]);
    TracingConfig c;
    c.enabled = true;
    Tracer tracer(c, console);
    auto trace = tracer.start_trace("run-1");
    { auto root = trace.start_span("agent.run", SpanKind::AGENT); }
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  CHECK(out.find("] run_id=run-1\nagent.run [") != std::string::npos);
}

TEST_CASE("the in-memory exporter groups each ended trace's spans") {
  auto mem = std::make_shared<InMemoryExporter>();
  TracingConfig c;
  c.enabled = true;
  Tracer tracer(c, mem);
  { auto a = tracer.start_span("fetch_document", SpanKind::TOOL); }
  { auto b = tracer.start_span("other"); }
  const auto traces = mem->traces();
  REQUIRE(traces.size() == 2);
  REQUIRE(traces[0].spans.size() == 1);
  CHECK(traces[0].spans[0].name == "fetch_document");
  mem->clear();
  CHECK(mem->spans().empty());
}

TEST_CASE("the socket exporter sends hello, spans and trace_end the daemon accepts, and flush is confirmed") {
  const std::string path = testing::temp_socket_path("basic");
  testing::FakeDaemon daemon(path);
  REQUIRE(daemon.ok());
  auto sock = std::make_shared<SocketExporter>(socket_config(path));
  Tracer tracer(socket_config(path), sock);
  for (int i = 0; i < 100; ++i) {
    auto trace = tracer.start_trace("run-" + std::to_string(i));
    auto root = trace.start_span("agent.run", SpanKind::AGENT, JsonObject().add("i", i));
    auto child = root.child("llm \"quoted\"\n", SpanKind::LLM);
    child.finish(JsonObject().add("text", "ok"));
  }
  REQUIRE(tracer.flush(10s));
  CHECK(daemon.accepted() == 300);  // 200 spans + 100 trace_end
  CHECK(daemon.rejected() == 0);
  CHECK(daemon.hellos() == 1);
  CHECK(daemon.reads() < 100);  // batched: far fewer reads than lines
  const auto st = sock->stats();
  CHECK(st.enqueued_lines == 300);
  CHECK(st.dropped_lines == 0);
  CHECK(st.daemon_accepted == 300);
  CHECK(st.daemon_rejected == 0);
  CHECK(st.connects == 1);
}

TEST_CASE("with no daemon, spans are buffered up to the limit, the rest dropped and counted, and nothing blocks") {
  TracingConfig c = socket_config(testing::temp_socket_path("absent"));
  c.max_buffered_spans = 50;
  c.shutdown_timeout = 100ms;
  auto sock = std::make_shared<SocketExporter>(c);
  Tracer tracer(c, sock);
  for (int i = 0; i < 200; ++i) {
    auto span = tracer.start_span("x");
  }
  const auto st = sock->stats();
  CHECK(st.enqueued_lines == 50);
  CHECK(st.dropped_lines == 350);  // 400 lines (a span and a trace_end each), 50 kept
  CHECK(st.connects == 0);
  CHECK(!tracer.flush(50ms));
}

TEST_CASE("the byte limit bounds the buffer too") {
  TracingConfig c = socket_config(testing::temp_socket_path("bytes"));
  c.max_buffered_bytes = 4096;
  SocketExporter sock(c);
  std::string line = R"({"type":"trace_end","trace_id":"1"})";
  line += '\n';
  std::size_t kept = 0;
  for (int i = 0; i < 1000; ++i) kept += sock.enqueue_line(line) ? 1 : 0;
  CHECK(kept == 4096 / line.size());
  CHECK(sock.stats().buffered_bytes <= 4096);
  CHECK(sock.stats().dropped_lines == 1000 - kept);
}

TEST_CASE("the socket exporter connects once the daemon appears and delivers what it buffered") {
  const std::string path = testing::temp_socket_path("late");
  TracingConfig c = socket_config(path);
  c.reconnect_max = 50ms;
  auto sock = std::make_shared<SocketExporter>(c);
  Tracer tracer(c, sock);
  for (int i = 0; i < 10; ++i) { auto span = tracer.start_span("early"); }
  CHECK(!tracer.flush(20ms));
  testing::FakeDaemon daemon(path);
  REQUIRE(daemon.ok());
  REQUIRE(tracer.flush(10s));
  CHECK(daemon.accepted() == 20);
}

TEST_CASE("a daemon that goes away does not kill the agent with SIGPIPE, the next one gets the new spans") {
  const std::string path = testing::temp_socket_path("gone");
  TracingConfig c = socket_config(path);
  c.reconnect_max = 20ms;
  auto sock = std::make_shared<SocketExporter>(c);
  Tracer tracer(c, sock);
  {
    testing::FakeDaemon first(path);
    REQUIRE(first.ok());
    { auto span = tracer.start_span("one"); }
    REQUIRE(tracer.flush(10s));
  }
  for (int i = 0; i < 5; ++i) { auto span = tracer.start_span("while away"); }
  testing::FakeDaemon second(path);
  REQUIRE(second.ok());
  REQUIRE(tracer.flush(10s));
  { auto span = tracer.start_span("after"); }
  REQUIRE(tracer.flush(10s));
  CHECK(second.accepted() >= 2);  // at least "after"; the ones written into the dead socket may be lost
  CHECK(sock->stats().connects >= 2);
}

TEST_CASE("a daemon that closes every connection at once costs lines, never a SIGPIPE") {
  const std::string path = testing::temp_socket_path("slam");
  ::unlink(path.c_str());
  const int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(lfd, 16) == 0);
  std::atomic<bool> stop{false};
  std::atomic<int> slammed{0};
  std::thread door([&] {
    while (!stop) {
      pollfd p{lfd, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      const int c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        ::close(c);
        ++slammed;
      }
    }
  });
  TracingConfig c = socket_config(path);
  c.reconnect_min = 1ms;
  c.reconnect_max = 2ms;
  c.shutdown_timeout = 50ms;
  auto sock = std::make_shared<SocketExporter>(c);
  Tracer tracer(c, sock);
  for (int round = 0; round < 20 && sock->stats().connection_losses < 3; ++round) {
    for (int i = 0; i < 2000; ++i) { auto span = tracer.start_span("into the void"); }
    tracer.flush(20ms);
  }
  CHECK(sock->stats().connection_losses >= 1);  // writes hit a closed peer (EPIPE) and the process lives
  stop = true;
  door.join();
  ::close(lfd);
  ::unlink(path.c_str());
}
}
