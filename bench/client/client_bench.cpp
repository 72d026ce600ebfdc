// tracecol::client cost on the agent's thread. Usage: client_bench PATH/TO/tracecol
// Prints percentiles per operation and ratios against the budgets and against the
// daemon-up numbers of the same run (these machines are noisy: read the ratios).

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/cpp/socket_exporter.hpp"
#include "client/cpp/tracer.hpp"

namespace tc = tracecol::client;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int round_size = 5000;  // spans between (untimed) flushes, so the buffer never fills while the daemon is up

struct Stats {
  double p50, p90, p99, mean;
};

Stats summarize(std::vector<double>& ns) {
  std::sort(ns.begin(), ns.end());
  double sum = 0;
  for (double v : ns) sum += v;
  auto at = [&](double q) { return ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1))]; };
  return {at(0.50), at(0.90), at(0.99), sum / static_cast<double>(ns.size())};
}

void print(const char* what, std::vector<double>& ns, double budget = 0) {
  const Stats s = summarize(ns);
  std::size_t slow = 0;
  for (double v : ns) slow += v > 10000 ? 1 : 0;
  std::printf("%-46s p50 %7.0f  p90 %7.0f  p99 %7.0f  mean %7.0f ns  (>10us: %zu, max %.1f ms)", what, s.p50,
              s.p90, s.p99, s.mean, slow, ns.back() / 1e6);
  if (budget > 0) std::printf("   p50/budget %.2f", s.p50 / budget);
  std::printf("\n");
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long v = 0;
      status >> v;
      return v;
    }
    status.ignore(1 << 20, '\n');
  }
  return -1;
}

pid_t start_daemon(const std::string& binary, const std::string& socket_path, const std::string& dir) {
  std::vector<std::string> args = {binary, "--socket", socket_path, "--http-listen", "off", "--threads", "1",
                                   "--export-file", dir + "/out.ndjson", "--log-level", "warn"};
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (ok) return pid;
    usleep(10000);  // the daemon is still starting; a bench may poll
  }
  std::fprintf(stderr, "daemon did not come up on %s\n", socket_path.c_str());
  std::exit(1);
}

/** One start+finish of a TOOL span with small inputs and outputs, as a child of the current span. */
inline void one_span(const tc::Tracer& tracer, int i) {
  auto span = tracer.start_span("tool.fetch", tc::SpanKind::TOOL,
                                tc::JsonObject().add("url", "https://example.com/a").add("attempt", i));
  span.finish(tc::JsonObject().add("status", 200));
}

/** Per-span cost, each span timed alone (includes one clock read, reported separately). */
void time_spans_into(const tc::Tracer& tracer, int rounds, bool flush_between, std::vector<double>& ns) {
  ns.assign(static_cast<std::size_t>(rounds) * round_size, 0.0);  // touched before timing: RSS stays the client's
  std::size_t k = 0;
  for (int r = 0; r < rounds; ++r) {
    auto root = tracer.start_span("agent.run", tc::SpanKind::AGENT);  // a trace per round: under --max-spans-per-trace
    for (int i = 0; i < round_size; ++i) {
      const auto t0 = Clock::now();
      one_span(tracer, i);
      const auto t1 = Clock::now();
      ns[k++] = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
    if (flush_between) tracer.flush(std::chrono::seconds(10));
  }
}

std::vector<double> time_spans(const tc::Tracer& tracer, int rounds, bool flush_between) {
  std::vector<double> ns;
  time_spans_into(tracer, rounds, flush_between, ns);
  return ns;
}

std::vector<double> clock_overhead() {
  std::vector<double> ns;
  for (int i = 0; i < 100000; ++i) {
    const auto t0 = Clock::now();
    const auto t1 = Clock::now();
    ns.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
  }
  return ns;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: client_bench PATH/TO/tracecol\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);  // the client needs no such help (MSG_NOSIGNAL); the bench's fork does not care either
  char dir_template[] = "/tmp/tracecol-client-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string socket = dir + "/s.sock";
  const pid_t daemon = start_daemon(argv[1], socket, dir);

  tc::TracingConfig config;
  config.enabled = true;
  config.socket_path = socket;
  auto exporter = std::make_shared<tc::SocketExporter>(config);
  tc::Tracer tracer(config, exporter);

  std::printf("tracecol C++ client bench (Release); span = start+finish of a TOOL span with inputs\n"
              "{url, attempt} and outputs {status}, a child of a running root span\n\n");
  auto overhead = clock_overhead();
  print("steady_clock::now() pair (timer overhead)", overhead);

  time_spans(tracer, 4, true);  // warm-up
  auto up = time_spans(tracer, 40, true);
  const Stats up_stats = summarize(up);
  print("span start+finish, daemon up", up, 1000);

  // Enqueue alone: an already-encoded span line into the buffer.
  {
    tc::SpanRecord rec;
    rec.trace_id = tc::new_trace_id();
    rec.span_id = tc::new_span_id();
    rec.parent_id = tc::new_span_id();
    rec.name = "tool.fetch";
    rec.kind = tc::SpanKind::TOOL;
    rec.started_at_ns = 1'732'500'000'000'000'000;
    rec.ended_at_ns = rec.started_at_ns + 1000;
    rec.inputs = tc::JsonObject().add("url", "https://example.com/a").add("attempt", 1).text();
    rec.outputs = R"({"status":200})";
    std::string line;
    tc::append_span_line(line, rec);
    std::printf("  (span line: %zu bytes)\n", line.size());
    std::vector<double> enq, exp;
    for (int r = 0; r < 40; ++r) {
      for (int i = 0; i < round_size; ++i) {
        const auto t0 = Clock::now();
        exporter->enqueue_line(line);
        const auto t1 = Clock::now();
        enq.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
      }
      tracer.flush(std::chrono::seconds(10));
      for (int i = 0; i < round_size; ++i) {
        const auto t0 = Clock::now();
        exporter->export_span(rec);
        const auto t1 = Clock::now();
        exp.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
      }
      tracer.flush(std::chrono::seconds(10));
    }
    print("enqueue of an encoded line", enq, 200);
    print("export_span (encode + enqueue)", exp);
  }

  // Two agent threads at once (this box has 2 cores; the writer thread shares them).
  {
    std::vector<double> a, b;
    std::thread other([&] { a = time_spans(tracer, 10, true); });
    b = time_spans(tracer, 10, true);
    other.join();
    tracer.flush(std::chrono::seconds(10));
    a.insert(a.end(), b.begin(), b.end());
    print("span start+finish, 2 threads at once", a, 1000);
  }
  const auto st = exporter->stats();
  std::printf("  daemon up: %llu lines enqueued, %llu dropped, daemon accepted %llu, rejected %llu\n",
              static_cast<unsigned long long>(st.enqueued_lines), static_cast<unsigned long long>(st.dropped_lines),
              static_cast<unsigned long long>(st.daemon_accepted), static_cast<unsigned long long>(st.daemon_rejected));

  // Daemon down: nothing listens on the path. The buffer fills, then every span is dropped.
  {
    tc::TracingConfig down = config;
    down.socket_path = dir + "/nobody.sock";
    down.shutdown_timeout = std::chrono::milliseconds(100);
    auto down_exporter = std::make_shared<tc::SocketExporter>(down);
    tc::Tracer down_tracer(down, down_exporter);
    std::vector<double> fill(4 * round_size, 1.0), full(100 * round_size, 1.0);
    const long rss_before = rss_kib();
    time_spans_into(down_tracer, 4, false, fill);    // 20k spans: the buffer (8 MiB) is still filling
    time_spans_into(down_tracer, 100, false, full);  // 500k more: far past the limit
    const long rss_after = rss_kib();
    const Stats fill_stats = summarize(fill);
    const Stats full_stats = summarize(full);
    print("span start+finish, daemon down, buffer filling", fill, 1000);
    print("span start+finish, daemon down, buffer full", full, 1000);
    const auto ds = down_exporter->stats();
    std::printf("  daemon down: %llu lines buffered (%zu bytes, limit %zu), %llu dropped and counted\n",
                static_cast<unsigned long long>(ds.enqueued_lines), ds.buffered_bytes, down.max_buffered_bytes,
                static_cast<unsigned long long>(ds.dropped_lines));
    std::printf("  process RSS %ld KiB before, %ld KiB after 520k spans with the daemon down: +%ld KiB "
                "(%.2f x the %zu KiB buffer limit)\n",
                rss_before, rss_after, rss_after - rss_before,
                static_cast<double>(rss_after - rss_before) / static_cast<double>(down.max_buffered_bytes / 1024),
                down.max_buffered_bytes / 1024);
    std::printf("  ratio p50 down/up: filling %.2f, full %.2f\n\n", fill_stats.p50 / up_stats.p50,
                full_stats.p50 / up_stats.p50);
  }

  kill(daemon, SIGTERM);
  int status = 0;
  waitpid(daemon, &status, 0);
  std::string rm = "rm -rf " + dir;
  return std::system(rm.c_str()) == 0 ? 0 : 1;
}
