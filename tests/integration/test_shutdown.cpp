// SIGTERM drains: open traces are exported as incomplete, completed ones stay, exit code 0.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <set>

#include "tests/integration/harness.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

TEST_SUITE("shutdown") {
TEST_CASE("SIGTERM exports every accepted span, open traces as incomplete, and exits 0 with a summary") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"),
           {"--export-file", out, "--trace-linger", "10m", "--trace-idle-timeout", "10m"});
  REQUIRE(d.wait_ready());

  constexpr int completed = 200;
  constexpr int open = 30;
  constexpr int spans = 5;
  std::string lines;
  for (int t = 0; t < completed + open; ++t) {
    const std::string tid = hex(0x5000 + static_cast<unsigned>(t), 32);
    for (int i = 0; i < spans; ++i) {
      SpanSpec s(tid, hex(static_cast<unsigned>(i + 1), 16), i == 0 ? std::string() : hex(1, 16));
      // Open traces keep a span_start without its end, so nothing completes them but shutdown.
      if (t >= completed && i == spans - 1) s.as("span_start").at(1732500000.0, -1);
      lines += span_line(s);
    }
    if (t < completed) lines += trace_end_line(tid);
  }
  SocketClient c(d.socket_path());
  REQUIRE(c.connected());
  REQUIRE(c.write_all(lines));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == completed * (spans + 1) + open * spans);
  CHECK(f->rejected == 0);

  auto st = d.terminate(SIGTERM);
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);

  auto file = read_ndjson(out);
  CHECK(file.bad_lines == 0);
  CHECK_FALSE(file.torn_tail);
  std::set<std::string> seen_complete;
  std::set<std::string> seen_open;
  int span_total = 0;
  for (const auto& r : file.records) {
    (flag(r, "complete") ? seen_complete : seen_open).insert(str(r, "trace_id"));
    span_total += r["spans"].Size();
  }
  CHECK(file.records.size() == completed + open);
  CHECK(seen_complete.size() == completed);
  CHECK(seen_open.size() == open);
  for (int t = completed; t < completed + open; ++t) CHECK(seen_open.count(hex(0x5000 + static_cast<unsigned>(t), 32)) == 1);
  CHECK(span_total == (completed + open) * spans);

  const std::string err = d.err();
  INFO("stderr:\n" << err);
  const auto at = err.find("exit summary:");
  REQUIRE(at != std::string::npos);
  const std::string summary = err.substr(at, err.find('\n', at) - at);
  CHECK(summary.find("accepted=" + std::to_string(completed * (spans + 1) + open * spans)) != std::string::npos);
  CHECK(summary.find("rejected=0") != std::string::npos);
  CHECK(summary.find("ndjson: sent=") != std::string::npos);
  CHECK(summary.find("dropped=0") != std::string::npos);
}

TEST_CASE("SIGINT also drains and exits 0") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", out, "--trace-linger", "10m"});
  REQUIRE(d.wait_ready());
  SocketClient c(d.socket_path());
  REQUIRE(c.write_all(span_line(SpanSpec("77", "1"))));
  REQUIRE(c.flush(1));
  auto st = d.terminate(SIGINT);
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  auto file = read_ndjson(out);
  REQUIRE(file.records.size() == 1);
  CHECK(str(file.records[0], "trace_id") == trace_hex("77"));
  CHECK(d.err().find("exit summary:") != std::string::npos);
}

TEST_CASE("SIGTERM drains agents still waiting in the accept backlog") {
  // Agents connect, write a whole trace and hang up faster than the daemon accepts; the
  // signal comes right after. The kernel queued those connections before the stop, so
  // their spans count as sent: they must be exported, not dropped with the backlog.
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", out});
  REQUIRE(d.wait_ready());
  constexpr int agents = 300;
  for (int i = 0; i < agents; ++i) {
    SocketClient c(d.socket_path());
    REQUIRE(c.connected());
    const std::string trace = std::to_string(1000 + i);
    REQUIRE(c.write_all(span_line(SpanSpec(trace, "1")) + trace_end_line(trace)));
  }
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  auto file = read_ndjson(out);
  CHECK(file.bad_lines == 0);
  std::set<std::string> traces;
  for (const auto& rec : file.records) traces.insert(str(rec, "trace_id"));
  CHECK(traces.size() == static_cast<std::size_t>(agents));
}
}
