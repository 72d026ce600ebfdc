// Agents in numbers against the real binary: a connect-send-close churn of 1,000 agents a
// second (no descriptor leaks, no span lost) and 10,000 idle agents held at once (memory
// per idle connection measured). TRACECOL_FAULT_SECONDS shortens or lengthens the churn.

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/proc_probe.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

/** A sample of the daemon's /metrics; nullopt when the scrape or the sample is missing. */
std::optional<double> scrape(HttpDaemon& h, const std::string& name) {
  const auto r = h.get("/metrics");
  if (!r || r->status != 200) return std::nullopt;
  return metric_value(r->body, name);
}

}  // namespace

TEST_SUITE("fault agents") {
TEST_CASE("1,000 connect-send-close agents a second leak no descriptor and lose no span") {
  const int seconds = fault_seconds(60);
  constexpr int per_tick = 100;  // 100 agents every 100 ms
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", out, "--trace-linger", "50ms"});
  REQUIRE(d.wait_ready());
  // Descriptors at rest: the readiness probe's connection may still be closing.
  long base = -1;
  REQUIRE(wait_until([&] {
    const long a = fd_count(d.pid());
    const bool same = a == base;
    base = a;
    return same && a > 0;
  }));
  const std::string sock = d.socket_path();
  std::uint64_t sent = 0, connect_failures = 0;
  const auto start = std::chrono::steady_clock::now();
  auto tick = start;
  for (int t = 0; t < seconds * 10; ++t) {
    for (int i = 0; i < per_tick; ++i) {
      const int fd = connect_raw(sock);
      if (fd < 0) {
        ++connect_failures;  // a full backlog under load: the agent's client would retry
        continue;
      }
      const std::string line = span_line(SpanSpec(hex(0xc0000000ull + sent, 12), "1"));
      if (write_fd(fd, line.data(), line.size())) ++sent;
      ::close(fd);
    }
    // Pacing, not synchronisation: the churn is meant to be 1,000 a second, mostly idle.
    tick += std::chrono::milliseconds(100);
    std::this_thread::sleep_until(tick);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("churn: " << sent << " agents in " << wall << " s (" << sent / wall << "/s), " << connect_failures
                    << " connects refused by a full backlog");
  CHECK(sent >= static_cast<std::uint64_t>(seconds) * 1000 * 9 / 10);
  // Every connection closes on the daemon's side: back to the descriptors it had at rest.
  long now = -1;
  CHECK(wait_until([&] { return (now = fd_count(d.pid())) <= base; }));
  INFO("descriptors at rest " << base << ", after the churn " << now);
  CHECK(now <= base);  // a sanitizer runtime may close one of its own meanwhile
  CHECK(d.running());
  const auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  const std::string err = d.err();
  INFO("stderr tail:\n" << err.substr(err.size() > 3000 ? err.size() - 3000 : 0));
  // Every span accounted for: accepted by the daemon, one trace record each in the file.
  CHECK(summary_field(err, "accepted") == std::optional<std::uint64_t>(sent));
  CHECK(summary_field(err, "rejected") == std::optional<std::uint64_t>(0));
  CHECK(summary_field(err, "partial_dropped") == std::optional<std::uint64_t>(0));
  const auto connections = summary_field(err, "connections");
  REQUIRE(connections);
  CHECK(*connections >= sent);
  CHECK(count_lines(out) == sent);
}

TEST_CASE("10,000 idle agents are held, memory per idle connection is measured and bounded") {
  constexpr std::uint64_t wanted = 10000;
  // Our end needs one descriptor per agent too; the daemon raises its own soft limit.
  const std::uint64_t limit = raise_nofile(wanted + 512);
  const std::uint64_t agents = limit > 1024 ? std::min<std::uint64_t>(wanted, limit - 512) : 0;
  if (agents < 1000) {
    MESSAGE("skipped: RLIMIT_NOFILE hard limit " << limit << " is too low for this test");
    return;
  }
  if (agents < wanted) MESSAGE("RLIMIT_NOFILE allows " << agents << " agents, not " << wanted);
  TempDir dir;
  HttpDaemon h(dir, {"--max-connections", std::to_string(agents + 100), "--export-file", dir.file("out.ndjson")});
  const pid_t pid = h.daemon.pid();
  REQUIRE(wait_until([&] { return scrape(h, "tracecol_connections_active") == 0.0; }));
  const long fds_before = fd_count(pid);
  const long rss_before = h.daemon.rss_kib();

  std::vector<int> fds;
  fds.reserve(agents);
  const std::string hello = "{\"type\":\"hello\",\"version\":1,\"client\":\"idle\"}\n";
  bool ok = true;
  while (ok && fds.size() < agents) {
    int fd = connect_raw(h.daemon.socket_path());
    // A full backlog (EAGAIN) just means the daemon is still accepting: try again.
    if (fd < 0) ok = wait_until([&] { return (fd = connect_raw(h.daemon.socket_path())) >= 0; });
    if (!ok) break;
    fds.push_back(fd);
    // Each agent says hello, then idles: its read buffer must be given back.
    ok = write_fd(fd, hello.data(), hello.size());
  }
  REQUIRE(ok);
  REQUIRE(fds.size() == agents);
  const double n = static_cast<double>(agents);
  CHECK(wait_until([&] { return scrape(h, "tracecol_connections_active") == n; }));
  CHECK(wait_until([&] { return scrape(h, "tracecol_control_lines_total") == n; }));
  const long rss_after = h.daemon.rss_kib();
  const double per_connection = static_cast<double>(rss_after - rss_before) * 1024.0 / n;
  MESSAGE(agents << " idle connections: RSS " << rss_before << " KiB -> " << rss_after << " KiB, "
                 << per_connection << " bytes per idle connection");
  // Generous: kernel socket buffers are not in RSS; a 64 KiB read buffer per agent would be.
  CHECK(per_connection < (sanitized_build() ? 48 * 1024 : 16 * 1024));

  // Still serving: an idle agent sends and flushes, as does a new one.
  SocketClient fresh(h.daemon.socket_path());
  REQUIRE(fresh.write_all(span_line(SpanSpec("1d1e", "1"))));
  const auto f = fresh.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == 1);
  fresh.close();
  for (int fd : fds) ::close(fd);
  CHECK(wait_until([&] { return scrape(h, "tracecol_connections_active") == 0.0; }));
  CHECK(wait_until([&] { return fd_count(pid) <= fds_before; }));
  const auto st = h.daemon.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}
}
