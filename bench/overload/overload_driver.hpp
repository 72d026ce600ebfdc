#pragma once
// Overload (issue #6): drive a running daemon at a multiple of its measured capacity and
// watch its memory. Shared by the 5-minute bench (bench/overload/overload_bench.cpp,
// `make soak`) and the 30-second CI test (tests/integration/test_overload.cpp), so both
// measure the same thing. POSIX and the standard library only: no test framework.
//
// The workload is the bench workload (bench/span_lines.hpp: 50 ~600-byte LLM-shaped span
// lines and a trace_end per trace, consecutive trace ids) over several Unix-socket
// connections. Writes are blocking, like the agents' client: at twice the capacity the
// daemon reads what it can and the kernel's socket buffers push back on the senders, so
// "offered" is what the schedule asked for and "sent" what the daemon took.

#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/span_lines.hpp"

namespace tracecol::bench::overload {

using Clock = std::chrono::steady_clock;

inline int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

inline bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

/** Sends a flush line and waits (poll with a deadline) for its `flushed` reply. */
inline bool flush(int fd, unsigned long long id, std::chrono::milliseconds timeout) {
  const std::string line = "{\"type\":\"flush\",\"id\":" + std::to_string(id) + "}\n";
  if (!write_all(fd, line.data(), line.size())) return false;
  const std::string want = "\"id\":" + std::to_string(id) + ",";
  const auto deadline = Clock::now() + timeout;
  std::string buf;
  char chunk[4096];
  for (;;) {
    if (buf.find(want) != std::string::npos) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

/** VmRSS of a process in KiB (0 when unreadable). */
inline long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long v = 0;
      in >> v;
      return v;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

/**
 * Paced senders, one thread and one connection each. rate 0: as fast as the daemon
 * reads. stop() ends the schedule, flushes every connection (so every line sent is
 * applied when it returns) and closes them.
 */
class Load {
 public:
  struct Result {
    std::uint64_t traces = 0, lines = 0, spans = 0, bytes = 0;
    double seconds = 0;  // from start to the last flush reply
    bool flushed = true; // every connection got its flush reply
  };

  Load(std::string socket, int connections, double spans_per_s, unsigned long long first_trace)
      : socket_(std::move(socket)), t0_(Clock::now()) {
    const double per_thread = spans_per_s / connections;
    for (int i = 0; i < connections; ++i) {
      // Disjoint trace ids per thread: 2^32 apart.
      const unsigned long long first = first_trace + (static_cast<unsigned long long>(i) << 32);
      workers_.push_back(std::make_unique<Worker>());
      Worker* w = workers_.back().get();
      w->fd = connect_unix(socket_);
      w->thread = std::thread([this, w, per_thread, first] { run(*w, per_thread, first); });
    }
  }
  ~Load() { stop(); }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  /** Lines written so far (any thread). */
  std::uint64_t lines_so_far() const {
    std::uint64_t n = 0;
    for (const auto& w : workers_) n += w->traces.load() * tmpl_.lines();
    return n;
  }

  Result stop(std::chrono::milliseconds flush_timeout = std::chrono::seconds(60)) {
    if (stopped_) return result_;
    stopped_ = true;
    stop_.store(true);
    for (auto& w : workers_) w->thread.join();
    Result r;
    for (auto& w : workers_) {
      if (w->fd < 0) {
        r.flushed = false;
        continue;
      }
      if (!flush(w->fd, 1, flush_timeout)) r.flushed = false;
      ::close(w->fd);
      r.traces += w->traces.load();
      r.flushed = r.flushed && w->ok;
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - t0_).count();
    r.lines = r.traces * tmpl_.lines();
    r.spans = r.traces * tmpl_.spans();
    r.bytes = r.traces * tmpl_.bytes();
    result_ = r;
    return r;
  }

 private:
  struct Worker {
    int fd = -1;
    std::atomic<std::uint64_t> traces{0};
    bool ok = true;
    std::thread thread;
  };

  void run(Worker& w, double spans_per_s, unsigned long long first) {
    if (w.fd < 0) return;
    const double traces_per_s = spans_per_s / static_cast<double>(tmpl_.spans());
    std::string out;
    std::uint64_t sent = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      std::uint64_t due = sent + 4;  // unpaced: 4 traces (~120 KB) a write
      if (spans_per_s > 0) {
        due = static_cast<std::uint64_t>(std::chrono::duration<double>(Clock::now() - t0_).count() * traces_per_s);
        if (due <= sent) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));  // pacing, not synchronisation
          continue;
        }
        due = std::min(due, sent + 4);
      }
      out.clear();
      for (std::uint64_t i = sent; i < due; ++i) tmpl_.append(out, first + i);
      if (!write_all(w.fd, out.data(), out.size())) {
        w.ok = false;
        return;
      }
      sent = due;
      w.traces.store(sent, std::memory_order_relaxed);
    }
  }

  const TraceTemplate tmpl_;
  std::string socket_;
  Clock::time_point t0_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  Result result_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

/**
 * A /metrics text read into "name{labels}" -> value (labels as printed). Enough for the
 * daemon's own exposition; the tests use the strict reader.
 */
inline std::map<std::string, double> parse_metrics(const std::string& text) {
  std::map<std::string, double> out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

/** Sum of every sample of `name` whose label text contains `label_part` (may be empty). */
inline std::uint64_t sum(const std::map<std::string, double>& m, const std::string& name,
                         const std::string& label_part = {}) {
  double total = 0;
  for (const auto& [key, v] : m) {
    if (key != name && !(key.starts_with(name + "{"))) continue;
    if (!label_part.empty() && key.find(label_part) == std::string::npos) continue;
    total += v;
  }
  return static_cast<std::uint64_t>(total);
}

/** The identities of docs/metrics.md on one scrape; an empty list when all hold. */
inline std::vector<std::string> broken_identities(const std::map<std::string, double>& m) {
  std::vector<std::string> broken;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) broken.push_back(what);
  };
  const auto lines = sum(m, "tracecol_lines_received_total");
  const auto accepted = sum(m, "tracecol_events_accepted_total");
  const auto rejected = sum(m, "tracecol_lines_rejected_total");
  const auto control = sum(m, "tracecol_control_lines_total");
  expect(lines == accepted + rejected + control,
         "lines " + std::to_string(lines) + " != accepted " + std::to_string(accepted) + " + rejected " +
             std::to_string(rejected) + " + control " + std::to_string(control));
  const auto spans = sum(m, "tracecol_spans_accepted_total");
  const auto published = sum(m, "tracecol_spans_published_total");
  const auto sampled = sum(m, "tracecol_spans_sampled_out_total");
  const auto open = sum(m, "tracecol_spans_open");
  expect(spans == published + sampled + open, "spans_accepted != published + sampled_out + open");
  const auto stored = sum(m, "tracecol_spans_stored_total");
  expect(stored == spans, "spans_stored != spans_accepted");
  expect(stored == sum(m, "tracecol_store_spans") + sum(m, "tracecol_spans_evicted_total"),
         "spans_stored != store_spans + spans_evicted");
  for (const auto& [key, v] : m) {
    if (!key.starts_with("tracecol_exporter_published_spans_total{")) continue;
    const std::string label = key.substr(key.find('{') + 1, key.find('}') - key.find('{') - 1);  // exporter="x"
    const auto p = static_cast<std::uint64_t>(v);
    const auto sent = sum(m, "tracecol_exporter_sent_spans_total", label);
    const auto dropped = sum(m, "tracecol_exporter_dropped_spans_total", label);
    const auto pending = sum(m, "tracecol_exporter_pending_spans", label);
    const auto live = sum(m, "tracecol_exporter_live_spans_total", label);
    expect(sent + dropped + pending == p, label + ": sent + dropped + pending != published");
    expect(p - live == published, label + ": published - live != spans_published");
  }
  return broken;
}

/** RSS samples, one a second, with the plateau and flatness rules of the issue. */
struct RssTrace {
  std::vector<long> kib;  // one per second

  long max() const { return kib.empty() ? 0 : *std::max_element(kib.begin(), kib.end()); }
  /** The plateau: the highest sample of the second quarter (the store filled by then). */
  long plateau() const { return window_max(kib.size() / 4, kib.size() / 2); }
  /** The end: the highest sample of the last quarter. */
  long end() const { return window_max(kib.size() * 3 / 4, kib.size()); }
  /** Flat at the end: end <= 1.1 x plateau. */
  bool flat() const { return plateau() > 0 && end() * 10 <= plateau() * 11; }

 private:
  long window_max(std::size_t from, std::size_t to) const {
    long m = 0;
    for (std::size_t i = from; i < to && i < kib.size(); ++i) m = std::max(m, kib[i]);
    return m;
  }
};

}  // namespace tracecol::bench::overload
