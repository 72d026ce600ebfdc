// Agents misbehaving against the real binary: hanging up mid-line, dying mid-write, the
// connection cap and running out of descriptors, and the daemon itself killed and restarted.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/proc_probe.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

/** A round trip proving the daemon serves: one span accepted. */
bool serves(const std::string& sock) {
  SocketClient c(sock);
  if (!c.connected() || !c.write_all(span_line(SpanSpec("5e7e", "1")))) return false;
  const auto f = c.flush(1, std::chrono::seconds(5));
  return f && f->accepted == 1;
}

/** Connects until a flush round trip works (a closed slot is noticed asynchronously). */
std::unique_ptr<SocketClient> served_client(const std::string& sock, std::int64_t id) {
  std::unique_ptr<SocketClient> out;
  wait_until([&] {
    auto c = std::make_unique<SocketClient>(sock);
    if (!c->connected()) return false;
    if (!c->flush(id, std::chrono::seconds(5))) return false;
    out = std::move(c);
    return true;
  });
  return out;
}

/** The daemon's CPU seconds over a window of `span` (an idle-wait measurement, not a sync). */
double cpu_over(pid_t pid, std::chrono::milliseconds span) {
  const double before = cpu_seconds(pid);
  std::this_thread::sleep_for(span);
  return cpu_seconds(pid) - before;
}

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

TEST_SUITE("fault agents") {
TEST_CASE("agents hanging up mid-line: each partial line is dropped and counted, never applied") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", out, "--trace-linger", "50ms"});
  REQUIRE(d.wait_ready());
  constexpr int agents = 20;
  for (int i = 0; i < agents; ++i) {
    SocketClient c(d.socket_path());
    REQUIRE(c.connected());
    const std::string cut = span_line(SpanSpec(hex(0xdead00 + i, 8), "1"));
    // A whole line, then one cut at a different place each time (never at its '\n').
    REQUIRE(c.write_all(span_line(SpanSpec(hex(0xa11e00 + i, 8), "1")) +
                        cut.substr(0, 1 + static_cast<std::size_t>(i) * (cut.size() - 2) / agents)));
  }
  SocketClient probe(d.socket_path());
  REQUIRE(probe.write_all(span_line(SpanSpec("b0b", "1"))));
  const auto f = probe.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == 1);
  probe.close();
  const auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  const std::string err = d.err();
  INFO("stderr:\n" << err);
  CHECK(summary_field(err, "partial_dropped") == std::optional<std::uint64_t>(agents));
  CHECK(summary_field(err, "accepted") == std::optional<std::uint64_t>(agents + 1));
  CHECK(summary_field(err, "rejected") == std::optional<std::uint64_t>(0));
  const auto file = read_ndjson(out);
  for (int i = 0; i < agents; ++i) {
    CHECK(records_for(file, trace_hex(hex(0xdead00 + i, 8))).empty());
    CHECK(records_for(file, trace_hex(hex(0xa11e00 + i, 8))).size() == 1);
  }
}

TEST_CASE("kill -9 of an agent mid-write: the daemon and other connections carry on, every line accounted") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {"--export-file", dir.file("out.ndjson")});
  REQUIRE(d.wait_ready());
  SocketClient other(d.socket_path());
  REQUIRE(other.connected());
  REQUIRE(other.flush(1));

  // About 4 MiB of span lines, written in odd-sized chunks so a kill lands mid-line.
  std::string stream;
  for (int i = 0; stream.size() < (4u << 20); ++i)
    stream += span_line(SpanSpec(hex(0x4b1d000 + i / 1000, 8), hex(static_cast<unsigned long long>(i) + 1, 6))
                            .with(R"("inputs":{"q":")" + std::string(100 + i % 50, 'q') + "\"}"));
  const std::string sock = d.socket_path();
  int progress[2];
  REQUIRE(::pipe2(progress, O_CLOEXEC) == 0);
  const pid_t writer = ::fork();
  REQUIRE(writer >= 0);
  if (writer == 0) {
    // Child: async-signal-safe calls only. Streams until killed, signalling after a full pass.
    const int fd = connect_raw(sock);
    if (fd < 0) _exit(1);
    for (bool signalled = false;;) {
      for (std::size_t pos = 0; pos < stream.size();) {
        const std::size_t n = std::min<std::size_t>(stream.size() - pos, 65536 + 4099);
        if (!write_fd(fd, stream.data() + pos, n)) _exit(2);
        pos += n;
      }
      if (!signalled) signalled = ::write(progress[1], "x", 1) == 1;
    }
  }
  ::close(progress[1]);
  pollfd pfd{progress[0], POLLIN, 0};
  const bool streamed = ::poll(&pfd, 1, 30000) == 1;
  ::kill(writer, SIGKILL);
  int status = 0;
  ::waitpid(writer, &status, 0);
  ::close(progress[0]);
  REQUIRE(streamed);
  CHECK(WIFSIGNALED(status));

  CHECK(d.running());
  REQUIRE(other.write_all(span_line(SpanSpec("07e4", "1"))));
  const auto f = other.flush(2);
  REQUIRE(f);
  CHECK(f->accepted == 1);
  CHECK(f->rejected == 0);
  CHECK(serves(d.socket_path()));
  other.close();
  const auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  const std::string err = d.err();
  INFO("stderr:\n" << err);
  const auto lines = summary_field(err, "lines");
  const auto accepted = summary_field(err, "accepted");
  const auto rejected = summary_field(err, "rejected");
  const auto control = summary_field(err, "control");
  const auto partial = summary_field(err, "partial_dropped");
  REQUIRE(lines);
  REQUIRE(accepted);
  REQUIRE(rejected);
  REQUIRE(control);
  REQUIRE(partial);
  CHECK(*lines == *accepted + *rejected + *control);
  CHECK(*rejected == 0);
  CHECK(*partial <= 1);  // the writer's last line, if the kill cut one
  const std::size_t stream_lines = static_cast<std::size_t>(std::count(stream.begin(), stream.end(), '\n'));
  CHECK(*accepted >= stream_lines + 2);  // a full pass, the other agent's span and the probe
}

TEST_CASE("kill -9 of the daemon: a restart takes over the stale socket and serves within 1 s") {
  TempDir dir;
  const std::string sock = dir.file("s.sock");
  {
    Daemon first(dir, sock, {"--export-file", dir.file("first.ndjson")});
    REQUIRE(first.wait_ready());
    REQUIRE(serves(sock));
    first.signal(SIGKILL);
    const auto st = first.wait_exit();
    REQUIRE(st);
    CHECK(WIFSIGNALED(*st));
  }
  REQUIRE(is_socket(sock));  // left behind: nobody removed it
  const auto start = std::chrono::steady_clock::now();
  Daemon second(dir, sock, {"--export-file", dir.file("second.ndjson")});
  const bool served = wait_until([&] { return serves(sock); }, default_deadline, std::chrono::milliseconds(5));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  REQUIRE(served);
  MESSAGE("restart after kill -9 served after " << took.count() << " ms");
  // The issue's bound; a sanitizer build starts several times slower.
  CHECK(took.count() < (sanitized_build() ? 3000 : 1000));
  INFO("stderr:\n" << second.err());
  CHECK(second.err().find("removing stale socket") != std::string::npos);
  const auto st = second.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}

TEST_CASE("connections over --max-connections are closed without a busy loop and a freed slot serves again") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {"--max-connections", "4", "--export-file", dir.file("out.ndjson")});
  REQUIRE(d.wait_ready());
  std::vector<std::unique_ptr<SocketClient>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(served_client(d.socket_path(), i + 1));
    REQUIRE(held.back());
  }
  // 200 more agents knock and keep their end open; the daemon closes each.
  std::vector<std::unique_ptr<SocketClient>> extra;
  for (int i = 0; i < 200; ++i) extra.push_back(std::make_unique<SocketClient>(d.socket_path()));
  std::size_t closed = 0;
  for (auto& c : extra) {
    if (!c->connected() || c->wait_eof()) ++closed;
  }
  CHECK(closed == extra.size());
  const double cpu = cpu_over(d.pid(), std::chrono::seconds(2));
  MESSAGE("daemon CPU over 2 s at the cap with 200 refused agents holding on: " << cpu << " s");
  CHECK(cpu < 0.5);
  // The held ones still work; a freed slot serves a new agent.
  REQUIRE(held[0]->write_all(span_line(SpanSpec("1", "1"))));
  const auto f = held[0]->flush(10);
  REQUIRE(f);
  CHECK(f->accepted == 1);
  held[1]->close();
  CHECK(served_client(d.socket_path(), 11) != nullptr);
  extra.clear();
  held.clear();
  const auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  const auto refused = summary_field(d.err(), "refused");
  REQUIRE(refused);
  CHECK(*refused >= 200);
}

TEST_CASE("out of descriptors (EMFILE): accepts pause without a busy loop and resume once agents leave") {
  if (sanitized_build()) {
    // UBSan's vptr check probes memory through a pipe(); with no descriptor left that fails
    // and it reports valid objects (error categories, shared_ptr blocks) as bad and aborts.
    // The release run covers this test.
    MESSAGE("skipped in a sanitizer build: the sanitizer runtime itself needs descriptors");
    return;
  }
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {"--export-file", dir.file("out.ndjson")});
  REQUIRE(d.wait_ready());
  REQUIRE(serves(d.socket_path()));
  // Leave the daemon 8 spare descriptors (9 if the probe's is not closed yet).
  const long base = fd_count(d.pid());
  REQUIRE(base > 0);
  const rlimit low{static_cast<rlim_t>(base + 8), static_cast<rlim_t>(base + 8)};
  REQUIRE(::prlimit(d.pid(), RLIMIT_NOFILE, &low, nullptr) == 0);

  std::vector<int> agents;
  for (int i = 0; i < 64; ++i) {
    const int fd = connect_raw(d.socket_path());
    if (fd >= 0) agents.push_back(fd);
  }
  CHECK(agents.size() > 8);  // the backlog takes what the daemon cannot accept
  CHECK(wait_until([&] { return d.err().find("Too many open files") != std::string::npos; }));
  const double cpu = cpu_over(d.pid(), std::chrono::seconds(2));
  MESSAGE("daemon CPU over 2 s while out of descriptors with agents pending: " << cpu << " s");
  CHECK(cpu < 0.5);
  CHECK(d.running());

  for (int fd : agents) ::close(fd);
  // Once the agents' connections are gone the daemon accepts again.
  CHECK(wait_until([&] { return serves(d.socket_path()); }));
  const auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}
}
