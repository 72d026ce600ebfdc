#pragma once
// Integration harness: the real tracecol binary, a real Unix socket, real files.
// Nothing here is a mock; every wait is a condition polled against a deadline.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace tracecol::integration {

using namespace std::chrono_literals;

/** Generous default for every wait: the suite must pass on a loaded 2-core box under ASan. */
inline constexpr std::chrono::milliseconds default_deadline = 30s;

/** Polls `pred` with a short backoff until it holds or `timeout` passes; returns its last value. */
bool wait_until(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = default_deadline,
                std::chrono::milliseconds max_backoff = std::chrono::milliseconds(50));

/** A fresh directory under /tmp (mkdtemp), removed recursively on destruction. */
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /** `path()/name`. */
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/** Reads a whole file; empty when it does not exist. */
std::string read_file(const std::string& path);
bool file_exists(const std::string& path);

/**
 * One tracecol process. Started with fork+exec; stdout and stderr go to files in `dir`.
 * The destructor stops it (SIGTERM, then SIGKILL after the deadline) and fails the
 * running test case if the daemon's stderr holds a sanitizer report. Not thread-safe.
 */
class Daemon {
 public:
  /**
   * Starts `TRACECOL_BINARY --socket socket_path --http-listen off args...` with this
   * process's environment plus `env` ("NAME=value" entries, which win over inherited ones;
   * among themselves the later one wins).
   */
  Daemon(const TempDir& dir, std::string socket_path, std::vector<std::string> args,
         std::vector<std::string> env = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /** Waits until a connect() to the socket succeeds; false if the process died or time ran out. */
  bool wait_ready(std::chrono::milliseconds timeout = default_deadline);
  /** Sends `sig` (SIGTERM by default) and waits for the exit; the raw wait status, or nullopt on timeout. */
  std::optional<int> terminate(int sig = 15, std::chrono::milliseconds timeout = default_deadline);
  /** Waits for the process to exit on its own; the raw wait status, or nullopt on timeout. */
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = default_deadline);
  /** True while the process has not exited (reaps it if it has). */
  bool running();
  void signal(int sig) const;

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_path_; }
  std::string out() const { return read_file(stdout_path_); }
  std::string err() const { return read_file(stderr_path_); }
  /** The daemon's sanitizer report (ASan/UBSan/LSan) from its stderr; empty when none. */
  std::string sanitizer_report() const;
  /** VmRSS in KiB from /proc/<pid>/status; 0 when unreadable. */
  long rss_kib() const;

 private:
  std::string socket_path_;
  std::string stdout_path_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

/** The daemon's answer to a flush line. */
struct Flushed {
  std::int64_t id = -1;
  std::int64_t accepted = -1;
  std::int64_t rejected = -1;
  std::string last_error;  // empty when null
};

/** A blocking Unix-socket client with deadline-bounded reads. Not thread-safe. */
class SocketClient {
 public:
  /** Connects; check `connected()`. */
  explicit SocketClient(const std::string& path);
  ~SocketClient();
  SocketClient(const SocketClient&) = delete;
  SocketClient& operator=(const SocketClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  /** Writes every byte; false on a write error (e.g. the daemon closed). */
  bool write_all(const std::string& bytes);
  /** Writes in random chunks of 1..max_chunk bytes drawn log-uniformly from `rng`. */
  bool write_chunked(const std::string& bytes, std::mt19937_64& rng, std::size_t max_chunk);
  /** Sends `{"type":"flush","id":id}` and waits for the matching flushed line. */
  std::optional<Flushed> flush(std::int64_t id, std::chrono::milliseconds timeout = default_deadline);
  /** True when the peer closes (read returns 0 or ECONNRESET) before `timeout`. */
  bool wait_eof(std::chrono::milliseconds timeout = default_deadline);
  /** Half-closes the write side; the daemon sees EOF. */
  void shutdown_write();
  void close();

 private:
  /** Reads one '\n'-terminated line; nullopt on EOF, error or timeout. */
  std::optional<std::string> read_line(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
};

/** The exit code of a raw wait status, or 128 + signal when a signal ended the process. */
int exit_code(int wait_status);

/** The binary under test: $TRACECOL_TEST_BINARY when set, else TRACECOL_BINARY from the build. */
std::string tracecol_binary();

}  // namespace tracecol::integration
