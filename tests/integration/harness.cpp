#include "tests/integration/harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tracecol::integration {

namespace {

std::atomic<int> g_daemon_counter{0};

int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return -1;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::string tracecol_binary() {
  // TRACECOL_TEST_BINARY lets the suite run against another build of the daemon.
  if (const char* env = std::getenv("TRACECOL_TEST_BINARY"); env != nullptr && *env != '\0') return env;
  return TRACECOL_BINARY;
}

int exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds max_backoff) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto backoff = 1ms;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    // A short, growing poll interval: this is a condition wait, not a sleep-for-readiness.
    std::this_thread::sleep_for(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, max_backoff);
  }
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/tcint.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Daemon::Daemon(const TempDir& dir, std::string socket_path, std::vector<std::string> args,
               std::vector<std::string> env)
    : socket_path_(std::move(socket_path)) {
  const int n = g_daemon_counter.fetch_add(1);
  stdout_path_ = dir.file("daemon" + std::to_string(n) + ".stdout");
  stderr_path_ = dir.file("daemon" + std::to_string(n) + ".stderr");

  std::vector<std::string> argv_s{tracecol_binary(), "--socket", socket_path_, "--http-listen", "off"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The child's environment is built before fork: only async-signal-safe calls after it.
  // getenv() returns the first match, so the test's entries go first.
  std::vector<std::string> env_s(env.rbegin(), env.rend());
  for (char** e = environ; *e != nullptr; ++e) env_s.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int out_fd = ::open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("cannot open daemon output files");

  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  if (pid_ < 0) throw std::runtime_error("fork failed");
}

Daemon::~Daemon() {
  // A graceful stop first, so a sanitizer build gets to report leaks and errors at exit.
  if (running()) terminate(SIGTERM);
  if (running()) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  const std::string report = sanitizer_report();
  if (!report.empty()) FAIL_CHECK("the daemon's stderr holds a sanitizer report: " << report);
}

std::string Daemon::sanitizer_report() const {
  const std::string text = err();
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                             "ThreadSanitizer", "AddressSanitizer:DEADLYSIGNAL"}) {
    const auto at = text.find(marker);
    if (at == std::string::npos) continue;
    const auto begin = text.rfind('\n', at);
    const auto from = begin == std::string::npos ? 0 : begin + 1;
    return text.substr(from, std::min<std::size_t>(text.size() - from, 2000));
  }
  return {};
}

bool Daemon::running() {
  if (status_ || pid_ <= 0) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

void Daemon::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Daemon::wait_ready(std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        if (!running()) return true;
        const int fd = connect_unix(socket_path_);
        if (fd < 0) return false;
        ::close(fd);
        return true;
      },
      timeout) &&
         running();
}

std::optional<int> Daemon::wait_exit(std::chrono::milliseconds timeout) {
  wait_until([&] { return !running(); }, timeout);
  return status_;
}

std::optional<int> Daemon::terminate(int sig, std::chrono::milliseconds timeout) {
  if (running()) ::kill(pid_, sig);
  return wait_exit(timeout);
}

long Daemon::rss_kib() const {
  std::istringstream in(read_file("/proc/" + std::to_string(pid_) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

SocketClient::SocketClient(const std::string& path) : fd_(connect_unix(path)) {}

SocketClient::~SocketClient() { close(); }

void SocketClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void SocketClient::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool SocketClient::write_all(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool SocketClient::write_chunked(const std::string& bytes, std::mt19937_64& rng, std::size_t max_chunk) {
  // Log-uniform sizes: single bytes and whole 64 KiB blocks both show up often.
  std::uniform_real_distribution<double> log_size(0.0, std::log(static_cast<double>(max_chunk) + 1.0));
  std::size_t off = 0;
  while (off < bytes.size()) {
    const auto drawn = static_cast<std::size_t>(std::exp(log_size(rng)));
    const std::size_t n = std::min(std::clamp<std::size_t>(drawn, 1, max_chunk), bytes.size() - off);
    if (!write_all(bytes.substr(off, n))) return false;
    off += n;
  }
  return true;
}

std::optional<std::string> SocketClient::read_line(std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ < 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<Flushed> SocketClient::flush(std::int64_t id, std::chrono::milliseconds timeout) {
  if (!write_all(R"({"type":"flush","id":)" + std::to_string(id) + "}\n")) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (auto line = read_line(deadline)) {
    rapidjson::Document d;
    d.Parse(line->c_str(), line->size());
    if (d.HasParseError() || !d.IsObject()) continue;
    if (!d.HasMember("type") || !d["type"].IsString() || std::string(d["type"].GetString()) != "flushed") continue;
    Flushed f;
    if (d.HasMember("id") && d["id"].IsInt64()) f.id = d["id"].GetInt64();
    if (f.id != id) continue;
    if (d.HasMember("accepted") && d["accepted"].IsInt64()) f.accepted = d["accepted"].GetInt64();
    if (d.HasMember("rejected") && d["rejected"].IsInt64()) f.rejected = d["rejected"].GetInt64();
    if (d.HasMember("last_error") && d["last_error"].IsString()) f.last_error = d["last_error"].GetString();
    return f;
  }
  return std::nullopt;
}

bool SocketClient::wait_eof(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (fd_ >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0 && errno != EINTR) return true;
  }
  return true;
}

}  // namespace tracecol::integration
