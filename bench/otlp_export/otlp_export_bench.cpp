// OTLP export CPU budget (issue #3): daemon CPU seconds (utime + stime from
// /proc/PID/stat) per span, store-only ingest vs the same ingest with --export-http to
// a local sink that answers 200 and discards. Budget: ratio <= 1.30.
//
// usage: otlp_export_bench TRACECOL_BINARY [traces=4000]   (50 spans per trace)

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/span_lines.hpp"
#include "tests/integration/http_receiver.hpp"

namespace {

using Clock = std::chrono::steady_clock;

pid_t start_daemon(const std::string& binary, const std::string& socket, std::vector<std::string> extra) {
  std::vector<std::string> args = {binary, "--socket", socket, "--http-listen", "off", "--threads", "1",
                                   "--trace-linger", "10ms", "--max-traces", "100000", "--max-store-bytes", "4GiB",
                                   "--log-level", "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int connect_to(const std::string& path) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    close(fd);
    usleep(10000);  // the daemon is still starting
  }
  std::fprintf(stderr, "daemon did not come up on %s\n", path.c_str());
  std::exit(1);
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0) { std::perror("write"); std::exit(1); }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

/** Daemon CPU (user + system) in seconds, from /proc/PID/stat fields 14 and 15. */
double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    rest >> field;
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/** Sends the stream, waits for the flushed reply, then for `done` (exports finished). */
double run(const std::string& binary, const std::string& dir, const std::string& stream,
           std::vector<std::string> extra, const std::function<bool()>& done) {
  const std::string sock = dir + "/s.sock";
  const pid_t pid = start_daemon(binary, sock, std::move(extra));
  const int fd = connect_to(sock);
  for (std::size_t off = 0; off < stream.size(); off += 65536)
    write_all(fd, stream.data() + off, std::min<std::size_t>(65536, stream.size() - off));
  const std::string flush = "{\"type\":\"flush\",\"id\":1}\n";
  write_all(fd, flush.data(), flush.size());
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') {}
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!done() && Clock::now() < deadline) usleep(5000);  // a bench polls; tests never sleep
  if (!done()) std::fprintf(stderr, "exports did not finish in time\n");
  const double cpu = cpu_seconds(pid);
  close(fd);
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  return cpu;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: otlp_export_bench TRACECOL_BINARY [traces]\n"); return 2; }
  const std::string binary = argv[1];
  const int traces = argc > 2 ? std::atoi(argv[2]) : 4000;
  std::size_t span_lines = 0, span_bytes = 0;
  const std::string stream = tracecol::bench::make_stream(1, traces, &span_lines, &span_bytes);
  char tmpl[] = "/tmp/otlp_export_bench.XXXXXX";
  const std::string dir = mkdtemp(tmpl);

  std::atomic<std::uint64_t> spans_received{0};
  tracecol::integration::HttpReceiver sink(std::nullopt, false);
  sink.script([&](std::size_t, const tracecol::integration::ReceivedRequest& req) {
    std::uint64_t n = 0;
    for (std::size_t at = req.body.find("\"spanId\""); at != std::string::npos; at = req.body.find("\"spanId\"", at + 8)) ++n;
    spans_received += n;
    return tracecol::integration::Reply{};
  });

  // Store-only: the sample rate keeps every trace out of the exporters (the default
  // console exporter then never runs), so the daemon only ingests, assembles and stores.
  double base = 0, with_export = 0;
  const int rounds = 3;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    base += run(binary, dir, stream, {"--sample-rate", "0"}, [&] { return Clock::now() - t0 > std::chrono::milliseconds(200); });
    spans_received = 0;
    with_export += run(binary, dir, stream,
                       {"--export-http", "http://127.0.0.1:" + std::to_string(sink.port()) + "/v1/traces",
                        "--export-http-max-delay", "50ms"},
                       [&] { return spans_received.load() >= span_lines; });
    if (spans_received.load() != span_lines)
      std::fprintf(stderr, "sink got %llu of %zu spans\n", static_cast<unsigned long long>(spans_received.load()), span_lines);
  }
  const double per_span_base = base / rounds / static_cast<double>(span_lines) * 1e6;
  const double per_span_export = with_export / rounds / static_cast<double>(span_lines) * 1e6;
  std::printf("otlp_export: %zu spans (%d traces x %d), %zu-byte lines, %d rounds\n", span_lines, traces,
              tracecol::bench::spans_per_trace, span_bytes / span_lines, rounds);
  std::printf("  store-only ingest:         %.2f us CPU/span\n", per_span_base);
  std::printf("  ingest + --export-http:    %.2f us CPU/span (%llu requests to the sink)\n", per_span_export,
              static_cast<unsigned long long>(sink.request_count()));
  std::printf("  ratio: %.3f (budget <= 1.30) %s\n", per_span_export / per_span_base,
              per_span_export / per_span_base <= 1.30 ? "OK" : "OVER BUDGET");
  std::system(("rm -rf " + dir).c_str());
  return 0;
}
