// End-to-end ingest budget (issue #2): the real tracecol binary on one io thread,
// ~600-byte span lines sent in 64 KiB writes over the Unix socket, timed from the first
// write to the `flushed` reply (every line applied to the store). The same run times a
// plain RapidJSON DOM parse (default flags) over the same lines, so the ratio can be
// read on a noisy machine. Also: daemon RSS per stored span against the line size, and
// RSS while twice --max-traces worth of traces stream through (must stay flat); ingest
// into that full store once it is warm (the steady state, evicting as it goes).
//
// usage: ingest_bench TRACECOL_BINARY [spans=200000]

#include <rapidjson/document.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench/span_lines.hpp"

namespace {

using Clock = std::chrono::steady_clock;

using tracecol::bench::make_stream;
using tracecol::bench::spans_per_trace;

struct Daemon {
  pid_t pid = -1;
  std::string socket;
};

Daemon start_daemon(const std::string& binary, const std::string& dir, const std::vector<std::string>& extra) {
  Daemon d;
  d.socket = dir + "/s.sock";
  std::vector<std::string> args = {binary, "--socket", d.socket, "--threads", "1",
                                   "--export-file", "/dev/null", "--log-level", "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  d.pid = fork();
  if (d.pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return d;
}

int connect_to(const std::string& path) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    close(fd);
    usleep(10000);  // the daemon is still starting; a bench may poll
  }
  std::fprintf(stderr, "daemon did not come up on %s\n", path.c_str());
  std::exit(1);
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { std::perror("write"); std::exit(1); }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

/** Sends a flush and blocks until the daemon's flushed line arrives; returns that line. */
std::string flush(int fd, int id) {
  std::string line = R"({"type":"flush","id":)" + std::to_string(id) + "}\n";
  write_all(fd, line.data(), line.size());
  std::string reply;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') reply += c;
  return reply;
}

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") { long v; status >> v; return v; }
    status.ignore(1 << 20, '\n');
  }
  return -1;
}

void stop(Daemon& d) {
  kill(d.pid, SIGTERM);
  int st = 0;
  waitpid(d.pid, &st, 0);
}

double send_stream(int fd, const std::string& stream, int flush_id) {
  const auto t0 = Clock::now();
  for (std::size_t off = 0; off < stream.size(); off += 65536)
    write_all(fd, stream.data() + off, std::min<std::size_t>(65536, stream.size() - off));
  std::string reply = flush(fd, flush_id);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (reply.find("\"rejected\":0") == std::string::npos)
    std::fprintf(stderr, "unexpected flushed reply: %s\n", reply.c_str());
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: ingest_bench TRACECOL_BINARY [spans]\n"); return 2; }
  const std::string binary = argv[1];
  const int spans = argc > 2 ? std::atoi(argv[2]) : 200000;
  const int traces = spans / spans_per_trace;
  char tmpl[] = "/tmp/tracecol-bench-XXXXXX";
  const std::string dir = mkdtemp(tmpl);

  // 1. Throughput and memory per stored span: the store holds every trace.
  std::size_t lines = 0, bytes = 0;
  const std::string stream = make_stream(0, traces, &lines, &bytes);
  Daemon d = start_daemon(binary, dir, {"--max-traces", std::to_string(traces + 10),
                                        "--max-store-bytes", "8GiB", "--export-queue", "100000"});
  int fd = connect_to(d.socket);
  flush(fd, 0);
  const long rss_before = rss_kib(d.pid);
  const double secs = send_stream(fd, stream, 1);
  const long rss_after = rss_kib(d.pid);
  close(fd);
  stop(d);
  const double avg_line = static_cast<double>(bytes) / static_cast<double>(lines);
  const double per_span = (rss_after - rss_before) * 1024.0 / static_cast<double>(lines);

  // 2. Baseline in the same run: a plain RapidJSON DOM parse (default flags) of the same lines.
  const auto b0 = Clock::now();
  std::size_t parsed = 0;
  for (std::size_t pos = 0; pos < stream.size();) {
    std::size_t nl = stream.find('\n', pos);
    rapidjson::Document doc;
    doc.Parse(stream.data() + pos, nl - pos);
    parsed += doc.HasParseError() ? 0 : 1;
    pos = nl + 1;
  }
  const double base_secs = std::chrono::duration<double>(Clock::now() - b0).count();

  // 3. RSS flat: stream 4x --max-traces worth of traces through a store that keeps 1000.
  Daemon d2 = start_daemon(binary, dir, {"--max-traces", "1000"});
  fd = connect_to(d2.socket);
  std::vector<long> rss;
  for (int round = 0; round < 4; ++round) {
    std::size_t l2 = 0, b2 = 0;
    send_stream(fd, make_stream(round * 1000, 1000, &l2, &b2), round + 10);
    rss.push_back(rss_kib(d2.pid));
  }
  // 4. Steady state, where a long-running sidecar lives: the same store, full and evicting
  //    its oldest traces, so new spans land in memory the evicted ones gave back instead of
  //    first-touched pages (which step 1 pays for every span). Four more rounds, timed.
  double steady_secs = 0;
  std::size_t steady_lines = 0;
  for (int round = 4; round < 8; ++round) {
    std::size_t l2 = 0, b2 = 0;
    const std::string more = make_stream(round * 1000, 1000, &l2, &b2);
    steady_secs += send_stream(fd, more, round + 10);
    steady_lines += l2;
  }
  close(fd);
  stop(d2);
  rmdir(dir.c_str());

  const double ingest_rate = static_cast<double>(lines) / secs;
  const double base_rate = static_cast<double>(parsed) / base_secs;
  std::printf("ingest_bench: %zu span lines, avg %.0f bytes, 64 KiB writes, daemon --threads 1\n", lines, avg_line);
  std::printf("| measure | value |\n|---|---|\n");
  std::printf("| daemon ingest into store (spans/s) | %.0f |\n", ingest_rate);
  std::printf("| RapidJSON DOM parse, default flags, same lines (lines/s) | %.0f |\n", base_rate);
  std::printf("| ratio ingest / DOM parse | %.2f |\n", ingest_rate / base_rate);
  const double steady_rate = static_cast<double>(steady_lines) / steady_secs;
  std::printf("| daemon ingest into a full store, evicting (spans/s) | %.0f |\n", steady_rate);
  std::printf("| ratio full-store ingest / DOM parse | %.2f |\n", steady_rate / base_rate);
  std::printf("| daemon RSS per stored span (bytes) | %.0f |\n", per_span);
  std::printf("| RSS per stored span / line size | %.2f |\n", per_span / avg_line);
  std::printf("| RSS after 1x,2x,3x,4x max-traces streamed (KiB) | %ld, %ld, %ld, %ld |\n", rss[0], rss[1], rss[2], rss[3]);
  std::printf("| RSS 4x / 2x | %.3f |\n", static_cast<double>(rss[3]) / static_cast<double>(rss[1]));
  return 0;
}
