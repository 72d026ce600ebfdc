// Startup: socket-path takeover rules, permissions, cleanup at exit.

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include "tests/integration/harness.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

/** Leaves a socket file nobody listens on: bind, close, no unlink. */
bool make_stale_socket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

/** A round trip proving the daemon serves: one span accepted. */
bool serves(const std::string& sock) {
  SocketClient c(sock);
  if (!c.connected() || !c.write_all(span_line(SpanSpec("1", "1")))) return false;
  auto f = c.flush(1);
  return f && f->accepted == 1;
}

}  // namespace

TEST_SUITE("startup") {
TEST_CASE("a stale socket file is taken over") {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  REQUIRE(make_stale_socket(sock));
  REQUIRE(is_socket(sock));
  Daemon d(dir, sock, {"--export-file", dir.file("out.ndjson")});
  REQUIRE(d.wait_ready());
  CHECK(serves(sock));
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}

TEST_CASE("a second daemon on a live socket exits non-zero naming the path while the first keeps serving") {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  Daemon first(dir, sock, {"--export-file", dir.file("out.ndjson")});
  REQUIRE(first.wait_ready());

  Daemon second(dir, sock, {"--export-file", dir.file("out2.ndjson")});
  auto st = second.wait_exit();
  REQUIRE(st);
  CHECK(exit_code(*st) != 0);
  INFO("second stderr:\n" << second.err());
  CHECK(second.err().find(sock) != std::string::npos);

  CHECK(first.running());
  CHECK(is_socket(sock));
  CHECK(serves(sock));
  auto st1 = first.terminate();
  REQUIRE(st1);
  CHECK(exit_code(*st1) == 0);
}

TEST_CASE("--http-listen unix: never takes over a live socket: the agent socket's path or another daemon's") {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  {
    Daemon same(dir, sock, {"--http-listen", "unix:" + sock});
    auto st = same.wait_exit();
    REQUIRE(st);
    CHECK(exit_code(*st) == 2);
    INFO("stderr:\n" << same.err());
    CHECK(same.err().find("is the --socket path") != std::string::npos);
  }
  Daemon first(dir, sock, {"--export-file", dir.file("out.ndjson")});
  REQUIRE(first.wait_ready());
  Daemon second(dir, dir.file("other.sock"), {"--http-listen", "unix:" + sock});
  auto st = second.wait_exit();
  REQUIRE(st);
  CHECK(exit_code(*st) != 0);
  INFO("second stderr:\n" << second.err());
  CHECK(second.err().find("another process") != std::string::npos);
  CHECK(second.err().find("--http-listen") != std::string::npos);
  CHECK(first.running());
  CHECK(serves(sock));  // still the first daemon's agent socket
  auto st1 = first.terminate();
  REQUIRE(st1);
  CHECK(exit_code(*st1) == 0);
}

TEST_CASE("an --export-file that cannot be opened stops startup with the reason, before the socket is bound") {
  TempDir dir;
  for (const std::string& path : {dir.file("no/such/dir/out.ndjson"), dir.path()}) {
    CAPTURE(path);
    Daemon d(dir, dir.file("s.sock"), {"--export-file", path});
    auto st = d.wait_exit();
    REQUIRE(st);
    CHECK(exit_code(*st) != 0);
    INFO("stderr:\n" << d.err());
    CHECK(d.err().find("--export-file " + path + ": ") != std::string::npos);
    CHECK_FALSE(file_exists(dir.file("s.sock")));
  }
}

TEST_CASE("a regular file at the socket path is refused and left untouched") {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  {
    std::ofstream f(sock);
    f << "precious data\n";
  }
  Daemon d(dir, sock, {"--export-file", dir.file("out.ndjson")});
  auto st = d.wait_exit();
  REQUIRE(st);
  CHECK(exit_code(*st) == 1);
  INFO("stderr:\n" << d.err());
  CHECK(d.err().find(sock) != std::string::npos);
  CHECK(read_file(sock) == "precious data\n");
  CHECK_FALSE(is_socket(sock));
}

/** Starts a daemon with `extra` flags, checks the socket's mode, stops it, checks cleanup. */
void check_socket_mode_and_cleanup(std::vector<std::string> extra, unsigned expected_mode) {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  extra.push_back("--export-file");
  extra.push_back(dir.file("out.ndjson"));
  Daemon d(dir, sock, extra);
  REQUIRE(d.wait_ready());
  CHECK(mode_of(sock) == expected_mode);
  auto st = d.terminate();
  REQUIRE(st);
  INFO("wait status " << *st << ", stderr:\n" << d.err());
  CHECK(exit_code(*st) == 0);
  CHECK_FALSE(file_exists(sock));
}

TEST_CASE("the socket is mode 0660 by default and removed at exit") {
  check_socket_mode_and_cleanup({}, 0660);
}

TEST_CASE("--socket-mode 0600 is honoured") {
  check_socket_mode_and_cleanup({"--socket-mode", "0600"}, 0600);
}
}

TEST_SUITE("startup") {
TEST_CASE("options are read from TRACECOL_ environment variables") {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  const std::string out = dir.file("env.ndjson");
  Daemon d(dir, sock, {}, {"TRACECOL_SOCKET_MODE=0604", "TRACECOL_EXPORT_FILE=" + out});
  REQUIRE(d.wait_ready());
  CHECK(mode_of(sock) == 0604);
  SocketClient c(sock);
  REQUIRE(c.write_all(span_line(SpanSpec("e1", "1")) + trace_end_line("e1")));
  REQUIRE(c.flush(1));
  CHECK(wait_until([&] { return count_lines(out) >= 1; }));
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  auto file = read_ndjson(out);
  CHECK(records_for(file, trace_hex("e1")).size() == 1);
}

TEST_CASE("options are read from a --config file") {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  const std::string out = dir.file("cfg.ndjson");
  const std::string cfg = dir.file("tracecol.toml");
  {
    std::ofstream f(cfg);
    f << "socket-mode = \"0640\"\nexport-file = \"" << out << "\"\n";
  }
  Daemon d(dir, sock, {"--config", cfg});
  REQUIRE(d.wait_ready());
  CHECK(mode_of(sock) == 0640);
  SocketClient c(sock);
  REQUIRE(c.write_all(span_line(SpanSpec("cf", "1")) + trace_end_line("cf")));
  REQUIRE(c.flush(1));
  CHECK(wait_until([&] { return count_lines(out) >= 1; }));
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}

TEST_CASE("an unknown key in the --config file exits 2 naming the key") {
  TempDir dir;
  const std::string cfg = dir.file("tracecol.toml");
  std::ofstream(cfg) << "max-trace = 7\n";  // max-traces, mistyped
  Daemon d(dir, dir.file("s.sock"), {"--config", cfg});
  auto st = d.wait_exit();
  REQUIRE(st);
  CHECK(exit_code(*st) == 2);
  INFO("stderr:\n" << d.err());
  CHECK(d.err().find("--config: unknown key 'max-trace'") != std::string::npos);
  CHECK_FALSE(file_exists(dir.file("s.sock")));
}

TEST_CASE("an invalid option value exits non-zero naming the flag and never binds the socket") {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  Daemon d(dir, sock, {"--trace-linger", "soon", "--export-file", dir.file("out.ndjson")});
  auto st = d.wait_exit();
  REQUIRE(st);
  CHECK(exit_code(*st) != 0);
  INFO("stderr:\n" << d.err());
  CHECK(d.err().find("--trace-linger") != std::string::npos);
  CHECK_FALSE(file_exists(sock));
}

TEST_CASE("--version prints the version and exits 0") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {"--version"});
  auto st = d.wait_exit();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  CHECK(d.out().find("tracecol ") != std::string::npos);
  CHECK_FALSE(file_exists(dir.file("s.sock")));
}
}

TEST_SUITE("startup") {
TEST_CASE("SIGTERM as soon as the socket accepts still drains, exits 0 and removes the socket") {
  // Once connect() succeeds, a supervisor may stop the daemon at any moment: the signal
  // handling must already be in place. Several rounds make a startup race visible.
  for (int round = 0; round < 10; ++round) {
    TempDir dir;
    const std::string sock = dir.file("s.sock");
    Daemon d(dir, sock, {"--export-file", dir.file("out.ndjson")});
    REQUIRE(d.wait_ready());
    auto st = d.terminate();
    REQUIRE(st);
    INFO("round " << round << ", wait status " << *st << ", stderr:\n" << d.err());
    CHECK(exit_code(*st) == 0);
    CHECK_FALSE(file_exists(sock));
  }
}
}

namespace {

/** The value of NAME in /proc/PID/environ; nullopt when absent. */
std::optional<std::string> environ_value(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(in, entry, '\0')) {
    if (entry.starts_with(name + "=")) return entry.substr(name.size() + 1);
  }
  return std::nullopt;
}

std::string thp_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const auto open = line.find('['), close = line.find(']');
  return open == std::string::npos || close == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
}

}  // namespace

TEST_CASE("malloc asks for huge pages under THP madvise: one re-exec, same pid and arguments, the operator's tunable wins") {
  TempDir dir;
  const std::string sock = dir.file("t.sock");
#if defined(__SANITIZE_ADDRESS__)
  const bool expect_reexec = false;  // the sanitizer's allocator replaces glibc's
#else
  const bool expect_reexec = thp_mode() == "madvise";
#endif
  {
    // Another tunable already set is kept; hugetlb is appended to it.
    Daemon d(dir, sock, {}, {"GLIBC_TUNABLES=glibc.malloc.tcache_count=7"});
    REQUIRE(d.wait_ready());  // the socket path came through the exec: the arguments did
    // The socket accepts before the startup lines are logged: wait for the banner, which
    // comes after the malloc line.
    CHECK(wait_until([&] { return d.err().find("listening on unix:" + sock) != std::string::npos; }));
    INFO("thp mode " << thp_mode() << ", stderr:\n" << d.err());
    // The exec'd environment is what getenv reports, and so the log line (glibc 2.36 cuts
    // /proc/PID/environ's copy of GLIBC_TUNABLES at the first tunable when it parses it).
    const bool huge = d.err().find("malloc: huge pages (glibc.malloc.hugetlb=1)") != std::string::npos;
    CHECK(huge == expect_reexec);
    if (!expect_reexec) CHECK(environ_value(d.pid(), "GLIBC_TUNABLES") == "glibc.malloc.tcache_count=7");
    std::ifstream comm("/proc/" + std::to_string(d.pid()) + "/comm");
    std::string name;
    std::getline(comm, name);
    CHECK(name == "tracecol");  // ps, top and pgrep still see the daemon by its name
    const auto st = d.terminate();
    REQUIRE(st);
    CHECK(WIFEXITED(*st));  // the pid we forked is the daemon that ran and drained
    CHECK(WEXITSTATUS(*st) == 0);
  }
  {
    Daemon d(dir, sock, {}, {"GLIBC_TUNABLES=glibc.malloc.hugetlb=0"});
    REQUIRE(d.wait_ready());
    CHECK(wait_until([&] { return d.err().find("listening on unix:" + sock) != std::string::npos; }));
    INFO("stderr:\n" << d.err());
    CHECK(environ_value(d.pid(), "GLIBC_TUNABLES") == "glibc.malloc.hugetlb=0");
#if !defined(__SANITIZE_ADDRESS__)
    CHECK(d.err().find("malloc: as GLIBC_TUNABLES sets glibc.malloc.hugetlb") != std::string::npos);
#endif
  }
}
