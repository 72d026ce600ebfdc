// Overload bench (issue #6; `make soak`, not CI): memory per stored span and per idle
// connection, then the daemon's ingest capacity, then twice that for SECONDS (default
// 300) with RSS sampled each second. Passes (exit 0) when RSS stays under the stated
// bound, is flat at the end (<= 1.1 x its plateau), every line sent is accounted for
// with the identities of docs/metrics.md exact, and a fresh agent is answered within
// 1 s of the load dropping. Prints one "key value" line per measurement.
//
// usage: overload_bench TRACECOL_BINARY [SECONDS] [STORE_MIB] [CONNECTIONS]

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench/overload/overload_driver.hpp"
#include "tests/support/loopback_port.hpp"

namespace ol = tracecol::bench::overload;
using namespace std::chrono_literals;

namespace {

/** One HTTP/1.0 GET on loopback; the body, or "" on failure. */
std::string http_get(int port, const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (ol::write_all(fd, req.data(), req.size())) {
      char buf[65536];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto body = out.find("\r\n\r\n");
  return body == std::string::npos || out.find(" 200 ") == std::string::npos ? std::string() : out.substr(body + 4);
}

struct Daemon {
  pid_t pid = -1;
  std::string socket;
  int port = 0;

  Daemon(const std::string& binary, const std::string& dir, std::vector<std::string> args) {
    socket = dir + "/tracecol.sock";
    port = tracecol::testing::unused_loopback_port();
    args.insert(args.begin(), {binary, "--socket", socket, "--http-listen", "127.0.0.1:" + std::to_string(port),
                               "--log-level", "warn"});
    const std::string log = dir + "/daemon.log";
    pid = ::fork();
    if (pid == 0) {
      // The daemon's output (a default console exporter, drop warnings) goes to a file.
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  bool wait_ready() const {
    for (int i = 0; i < 1000; ++i) {  // up to 10 s
      const int fd = ol::connect_unix(socket);
      if (fd >= 0) {
        ::close(fd);
        if (!http_get(port, "/healthz").empty()) return true;
      }
      std::this_thread::sleep_for(10ms);  // polling startup against a deadline
    }
    return false;
  }
  std::map<std::string, double> metrics() const { return ol::parse_metrics(http_get(port, "/metrics")); }
  /** Two scrapes in a row with the same accounting counters and nothing pending. */
  std::map<std::string, double> quiet_metrics() const {
    std::map<std::string, double> last;
    for (int i = 0; i < 600; ++i) {
      auto m = metrics();
      std::erase_if(m, [](const auto& kv) { return kv.first.starts_with("tracecol_http_") || kv.first.starts_with("tracecol_export_latency"); });
      const bool idle = ol::sum(m, "tracecol_exporter_pending_spans") == 0;
      if (idle && m == last) return m;
      last = std::move(m);
      std::this_thread::sleep_for(100ms);
    }
    return last;
  }
  int stop() {
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

void report(const char* key, double value) { std::printf("%-40s %.1f\n", key, value); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: overload_bench TRACECOL_BINARY [SECONDS] [STORE_MIB] [CONNECTIONS]\n");
    return 2;
  }
  const std::string binary = argv[1];
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 300;
  const long store_mib = argc > 3 ? std::atol(argv[3]) : 64;
  const int connections = argc > 4 ? std::atoi(argv[4]) : 8;
  char tmpl[] = "/tmp/tracecol-overload-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  bool ok = true;
  auto fail = [&ok](const std::string& why) {
    std::printf("FAIL %s\n", why.c_str());
    ok = false;
  };

  // 1. Memory per stored span (no exporters, a store big enough to hold everything) and
  //    per idle connection.
  {
    Daemon d(binary, dir, {"--max-store-bytes", "4GiB", "--max-traces", "1000000"});
    if (!d.wait_ready()) return fail("daemon did not start"), 1;
    const long idle = ol::rss_kib(d.pid);
    {
      ol::Load load(d.socket, 1, 0, 1);
      while (load.lines_so_far() < 4000 * 51) std::this_thread::sleep_for(10ms);
      load.stop();
    }
    const auto m = d.metrics();
    const long full = ol::rss_kib(d.pid);
    const double spans = static_cast<double>(ol::sum(m, "tracecol_store_spans"));
    report("store_spans", spans);
    report("rss_per_stored_span_bytes", (full - idle) * 1024.0 / spans);
    report("footprint_per_stored_span_bytes", static_cast<double>(ol::sum(m, "tracecol_store_bytes")) / spans);
    std::vector<int> fds;
    const long before = ol::rss_kib(d.pid);
    for (int i = 0; i < 1000; ++i) fds.push_back(ol::connect_unix(d.socket));
    // Each connection is accepted once the gauge counts it.
    for (int i = 0; i < 500 && ol::sum(d.metrics(), "tracecol_connections_active") < 1000; ++i)
      std::this_thread::sleep_for(10ms);
    const long after = ol::rss_kib(d.pid);
    report("rss_per_idle_connection_bytes", (after - before) * 1024.0 / 1000);
    for (int fd : fds) ::close(fd);
    d.stop();
  }

  // 2. The overload daemon: a bounded store, a file exporter, and an HTTP exporter whose
  //    target is down (its queue full, its retries giving up) throughout.
  const long http_queue_mib = 16, export_queue = 1000;
  Daemon d(binary, dir,
           {"--max-store-bytes", std::to_string(store_mib) + "MiB", "--max-traces", "1000000", "--export-file",
            "/dev/null", "--export-queue", std::to_string(export_queue), "--export-http",
            "http://127.0.0.1:" + std::to_string(tracecol::testing::unused_loopback_port()) + "/v1/traces", "--export-http-queue-bytes",
            std::to_string(http_queue_mib) + "MiB", "--export-http-timeout", "200ms", "--export-http-max-elapsed",
            "1s"});
  if (!d.wait_ready()) return fail("daemon did not start"), 1;
  const long idle_kib = ol::rss_kib(d.pid);
  report("rss_idle_mib", idle_kib / 1024.0);

  ol::Load::Result cap;
  {
    ol::Load load(d.socket, connections / 2, 0, 1);
    std::this_thread::sleep_for(10s);  // the measuring window
    cap = load.stop();
  }
  const double capacity = static_cast<double>(cap.spans) / cap.seconds;
  report("capacity_spans_per_s", capacity);
  report("capacity_mib_per_s", static_cast<double>(cap.bytes) / cap.seconds / (1 << 20));

  ol::RssTrace rss;
  ol::Load::Result over;
  {
    ol::Load load(d.socket, connections, 2 * capacity, 1ull << 40);
    for (int s = 0; s < seconds; ++s) {
      std::this_thread::sleep_for(1s);  // the sampling period
      rss.kib.push_back(ol::rss_kib(d.pid));
      if (s % 30 == 29) std::printf("  t=%3ds rss=%ld MiB\n", s + 1, rss.kib.back() / 1024);
      std::fflush(stdout);
    }
    over = load.stop();
  }
  report("offered_spans_per_s", 2 * capacity);
  report("taken_spans_per_s", static_cast<double>(over.spans) / over.seconds);
  report("rss_plateau_mib", rss.plateau() / 1024.0);
  report("rss_end_mib", rss.end() / 1024.0);
  report("rss_max_mib", rss.max() / 1024.0);
  if (!cap.flushed || !over.flushed) fail("a load connection got no flush reply");

  // Recovery: a fresh agent, answered within 1 s of the load dropping.
  {
    const auto t0 = ol::Clock::now();
    const int fd = ol::connect_unix(d.socket);
    const std::string one = R"({"type":"span","trace_id":"77","span_id":"1","name":"after","kind":"TOOL","started_at":1.0,"ended_at":2.0})" "\n";
    const bool answered = fd >= 0 && ol::write_all(fd, one.data(), one.size()) && ol::flush(fd, 5, 10s);
    ::close(fd);
    const bool health = !http_get(d.port, "/healthz").empty();
    const double recovery = std::chrono::duration<double>(ol::Clock::now() - t0).count();
    report("recovery_seconds", recovery);
    if (!answered || !health || recovery > 1.0) fail("not answered within 1 s after the load dropped");
  }

  const auto m = d.quiet_metrics();
  for (const auto& why : ol::broken_identities(m)) fail("identity: " + why);
  const std::uint64_t control = ol::sum(m, "tracecol_control_lines_total");
  const std::uint64_t lines = ol::sum(m, "tracecol_lines_received_total");
  if (lines != cap.lines + over.lines + 1 + control)
    fail("lines received " + std::to_string(lines) + " != lines sent " + std::to_string(cap.lines + over.lines + 1 + control));
  report("spans_accepted", static_cast<double>(ol::sum(m, "tracecol_spans_accepted_total")));
  report("spans_evicted", static_cast<double>(ol::sum(m, "tracecol_spans_evicted_total")));

  // Bound = --max-store-bytes + the HTTP exporter's queue bytes + the fan-out queues
  // (export_queue traces of ~64 KiB that outlived the store, 2 exporters) + a fixed
  // overhead: the idle RSS plus 64 MiB (allocator slack, connection buffers, batches).
  const long bound = idle_kib + store_mib * 1024 + http_queue_mib * 1024 + export_queue * 2 * 64 + 64 * 1024;
  report("rss_bound_mib", bound / 1024.0);
  if (rss.max() > bound) fail("RSS over the bound");
  if (!rss.flat()) fail("RSS not flat at the end (end > 1.1 x plateau)");
  const int code = d.stop();
  if (code != 0) fail("daemon exit code " + std::to_string(code));
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
