// The socket side of the HTTP query bench: span lines of the bench workload
// (bench/span_lines.hpp, 50 ~600-byte spans and a trace_end per trace) over the Unix
// socket, either as fast as possible (load: also measures ingest capacity, like
// ingest_bench) or paced at a target rate. Trace ids are consecutive; after each
// `flushed` reply the highest applied trace id is written to a progress file, so the
// wrk script only asks for traces the store holds.
//
// usage: ingest_sender SOCKET load FIRST_ID COUNT PROGRESS_FILE
//        ingest_sender SOCKET rate FIRST_ID SPANS_PER_S SECONDS PROGRESS_FILE
// prints one line: "<mode> spans=<n> seconds=<s> spans_per_s=<rate>"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/span_lines.hpp"

namespace {

using tracecol::bench::TraceTemplate;

using Clock = std::chrono::steady_clock;

int connect_to(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

void write_all(int fd, const std::string& bytes) {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  while (n > 0) {
    const ssize_t w = write(fd, p, std::min<std::size_t>(n, 65536));
    if (w < 0) {
      std::perror("write");
      std::exit(1);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void write_progress(const std::string& path, unsigned long long id) {
  const std::string tmp = path + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "%llu\n", id);
    std::fclose(f);
    std::rename(tmp.c_str(), path.c_str());  // the wrk script never reads half a number
  }
}

/**
 * Reads `flushed` replies; each flush id is the last trace id sent before it, so once
 * the reply is in, every trace up to it is in the store.
 */
class ReplyReader {
 public:
  ReplyReader(int fd, std::string progress) : fd_(fd), progress_(std::move(progress)) {
    thread_ = std::thread([this] { run(); });
  }
  ~ReplyReader() { thread_.join(); }
  /** Blocks until the reply to flush `id` arrived. */
  void wait_for(unsigned long long id) const {
    while (last_.load() < id && !eof_.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  unsigned long long rejected() const { return rejected_.load(); }

 private:
  void run() {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const ssize_t n = read(fd_, chunk, sizeof chunk);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1)) {
        const std::string line = buf.substr(0, nl);
        const auto id_at = line.find("\"id\":");
        const auto rej_at = line.find("\"rejected\":");
        if (id_at == std::string::npos) continue;
        const unsigned long long id = std::strtoull(line.c_str() + id_at + 5, nullptr, 10);
        if (rej_at != std::string::npos) rejected_.store(std::strtoull(line.c_str() + rej_at + 11, nullptr, 10));
        write_progress(progress_, id);
        last_.store(id);
      }
    }
    eof_.store(true);
  }
  int fd_;
  std::string progress_;
  std::atomic<unsigned long long> last_{0};
  std::atomic<unsigned long long> rejected_{0};
  std::atomic<bool> eof_{false};
  std::thread thread_;
};

void send_flush(int fd, unsigned long long id) {
  write_all(fd, "{\"type\":\"flush\",\"id\":" + std::to_string(id) + "}\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: ingest_sender SOCKET load FIRST_ID COUNT PROGRESS_FILE\n"
                 "       ingest_sender SOCKET rate FIRST_ID SPANS_PER_S SECONDS PROGRESS_FILE\n");
    return 2;
  }
  const std::string socket_path = argv[1];
  const std::string mode = argv[2];
  const unsigned long long first = std::strtoull(argv[3], nullptr, 10);
  const TraceTemplate tmpl;
  const int fd = connect_to(socket_path);
  std::string out;
  unsigned long long sent = 0;  // traces
  double seconds = 0;
  std::string progress;

  if (mode == "load") {
    const unsigned long long count = std::strtoull(argv[4], nullptr, 10);
    progress = argv[5];
    ReplyReader replies(fd, progress);
    const auto t0 = Clock::now();
    for (; sent < count;) {
      out.clear();
      for (int i = 0; i < 32 && sent < count; ++i, ++sent) tmpl.append(out, first + sent);
      write_all(fd, out);
    }
    send_flush(fd, first + sent - 1);
    replies.wait_for(first + sent - 1);
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    shutdown(fd, SHUT_WR);
    if (replies.rejected() != 0) std::fprintf(stderr, "ingest_sender: %llu lines rejected\n", replies.rejected());
  } else if (mode == "rate" && argc >= 7) {
    const double spans_per_s = std::strtod(argv[4], nullptr);
    const double duration = std::strtod(argv[5], nullptr);
    progress = argv[6];
    const double traces_per_s = spans_per_s / static_cast<double>(tmpl.spans());
    ReplyReader replies(fd, progress);
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
    auto next_flush = t0 + std::chrono::milliseconds(100);
    for (auto now = t0; now < end; now = Clock::now()) {
      // Flush on schedule even when behind, or the progress file (and the ids wrk asks for) goes stale.
      if (now >= next_flush && sent > 0) {
        send_flush(fd, first + sent - 1);
        next_flush += std::chrono::milliseconds(100);
      }
      const auto due = static_cast<unsigned long long>(std::chrono::duration<double>(now - t0).count() * traces_per_s);
      if (due > sent) {
        out.clear();
        for (int i = 0; i < 32 && sent < due; ++i, ++sent) tmpl.append(out, first + sent);
        write_all(fd, out);
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // pacing, not waiting for a condition
    }
    if (sent > 0) {
      send_flush(fd, first + sent - 1);
      replies.wait_for(first + sent - 1);
    }
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    shutdown(fd, SHUT_WR);
  } else {
    std::fprintf(stderr, "ingest_sender: unknown mode %s\n", mode.c_str());
    return 2;
  }
  close(fd);
  const double spans = static_cast<double>(sent * tmpl.spans());
  std::printf("%s spans=%.0f seconds=%.3f spans_per_s=%.0f last_id=%llu\n", mode.c_str(), spans, seconds,
              spans / seconds, first + sent - 1);
  return 0;
}
