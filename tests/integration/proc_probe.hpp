#pragma once
// Probes of a running daemon from outside, for the fault tests: its open descriptors and
// CPU time from /proc, counters from its exit summary or /metrics, raw socket connects.

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "tests/integration/harness.hpp"

namespace tracecol::integration {

/** Entries in /proc/<pid>/fd; -1 when unreadable. */
inline long fd_count(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return -1;
  long n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

/** utime + stime of a process in seconds (/proc/<pid>/stat); -1 when unreadable. */
inline double cpu_seconds(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
  const char* p = stat.c_str() + paren + 2;
  for (int field = 3; field < 14; ++field) {
    p = std::strchr(p, ' ');
    if (p == nullptr) return -1;
    ++p;
  }
  char* end = nullptr;
  const unsigned long long utime = std::strtoull(p, &end, 10);
  const unsigned long long stime = std::strtoull(end, nullptr, 10);
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/** The exit summary line of a daemon's stderr ("" when absent). */
inline std::string summary_line(const std::string& err) {
  const std::size_t at = err.find("exit summary:");
  if (at == std::string::npos) return {};
  return err.substr(at, err.find('\n', at) - at);
}

/** The number after " key=" in a run of summary fields; nullopt when absent or not a number. */
inline std::optional<std::uint64_t> field(const std::string& text, const std::string& key) {
  const std::size_t at = text.find(" " + key + "=");
  if (at == std::string::npos) return std::nullopt;
  const char* first = text.c_str() + at + key.size() + 2;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(first, text.c_str() + text.size(), value);
  if (ec != std::errc() || end == first) return std::nullopt;
  return value;
}

/** A counter from the daemon's exit summary line (e.g. "accepted"); nullopt when absent. */
inline std::optional<std::uint64_t> summary_field(const std::string& err, const std::string& name) {
  return field(summary_line(err), name);
}

/** An unlabelled sample from a Prometheus text exposition; nullopt when absent. */
inline std::optional<double> metric_value(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

/** A blocking connect to a Unix socket (close-on-exec); -1 with errno set on failure. */
inline int connect_raw(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return -1;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

/** Writes every byte to fd; false on error. */
inline bool write_fd(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/** Raises this process's soft RLIMIT_NOFILE towards `want` (never above the hard limit); the soft limit after. */
inline std::uint64_t raise_nofile(std::uint64_t want) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < want) {
    r.rlim_cur = r.rlim_max == RLIM_INFINITY ? want : std::min<rlim_t>(want, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
    ::getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

/** TRACECOL_FAULT_SECONDS when set (the long fault tests' duration), else `fallback`. */
inline int fault_seconds(int fallback) {
  const char* v = std::getenv("TRACECOL_FAULT_SECONDS");
  const int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? n : fallback;
}

/** True in a sanitizer build of the tests (the daemon under test is built the same way). */
constexpr bool sanitized_build() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#else
  return false;
#endif
}

}  // namespace tracecol::integration
