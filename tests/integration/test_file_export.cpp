// NDJSON file exporter: size rotation, reopen on SIGHUP, spans mode.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "tests/integration/harness.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

/** A small whole trace (two spans) as one `trace` event. */
std::string small_trace(const std::string& tid) {
  return trace_line(tid, "run-f", {SpanSpec(tid, "1").named("root"), SpanSpec(tid, "2", "1").named("child")});
}

bool trace_in(const std::string& path, const std::string& tid) {
  return read_file(path).find(tid) != std::string::npos;
}

}  // namespace

TEST_SUITE("file_export") {
TEST_CASE("--file-max-bytes rotates, keeps at most --file-max-backups files and never splits a line") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", out, "--file-max-bytes", "4KiB", "--file-max-backups", "3"});
  REQUIRE(d.wait_ready());
  SocketClient c(d.socket_path());
  constexpr int traces = 80;
  std::string lines;
  for (int t = 0; t < traces; ++t) lines += small_trace(hex(0xf00 + static_cast<unsigned>(t), 32));
  REQUIRE(c.write_all(lines));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == traces);
  auto st = d.terminate();  // drains the exporter
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);

  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    const std::string name = e.path().filename().string();
    if (name.rfind("out.ndjson", 0) == 0) files.push_back(e.path().string());
  }
  INFO("files: " << files.size());
  CHECK(files.size() == 4);  // the live file plus 3 backups
  CHECK(file_exists(out + ".1"));
  CHECK(file_exists(out + ".3"));
  CHECK_FALSE(file_exists(out + ".4"));
  std::map<std::string, int> seen;
  std::size_t longest = 0;
  for (const auto& path : files) {
    const std::string text = read_file(path);
    auto parsed = parse_ndjson(text);
    INFO("file " << path << " size " << text.size());
    CHECK(parsed.bad_lines == 0);
    CHECK_FALSE(parsed.torn_tail);
    for (const auto& r : parsed.records) {
      ++seen[str(r, "trace_id")];
      CHECK(r["spans"].Size() == 2);
    }
    for (std::size_t p = 0, n; (n = text.find('\n', p)) != std::string::npos; p = n + 1) longest = std::max(longest, n + 1 - p);
    // Rotation happens at the size bound: a file may exceed it by at most one record.
    CHECK(text.size() <= 4096 + longest);
  }
  for (const auto& [tid, n] : seen) CHECK_MESSAGE(n == 1, tid);
  // Backups hold the newest traces: the last one sent is there.
  CHECK(seen.count(hex(0xf00 + traces - 1, 32)) == 1);
  CHECK(seen.size() < static_cast<std::size_t>(traces));
}

TEST_CASE("SIGHUP after the file is renamed reopens a new file and every trace lands exactly once") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  const std::string old = dir.file("old.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", out});
  REQUIRE(d.wait_ready());
  SocketClient c(d.socket_path());
  int next = 0;
  auto send = [&](int n) {
    std::string lines;
    for (int i = 0; i < n; ++i) lines += small_trace(hex(0xb000 + static_cast<unsigned>(next++), 32));
    return c.write_all(lines) && c.flush(next).has_value();
  };
  REQUIRE(send(20));
  REQUIRE(wait_until([&] { return count_lines(out) >= 20; }));
  REQUIRE(std::rename(out.c_str(), old.c_str()) == 0);
  d.signal(SIGHUP);

  // Probe until a trace lands in a new file at the path (the reopen is asynchronous).
  bool reopened = wait_until([&] {
    const std::string tid = hex(0xb000 + static_cast<unsigned>(next), 32);
    if (!send(1)) return false;
    wait_until([&] { return trace_in(out, tid) || trace_in(old, tid); }, std::chrono::seconds(10));
    return trace_in(out, tid);
  });
  REQUIRE(reopened);
  REQUIRE(send(20));
  const int total = next;
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);

  auto a = read_ndjson(old);
  auto b = read_ndjson(out);
  CHECK(a.bad_lines == 0);
  CHECK(b.bad_lines == 0);
  CHECK(a.records.size() >= 20);
  CHECK(b.records.size() >= 21);
  std::map<std::string, int> seen;
  for (const auto& r : a.records) ++seen[str(r, "trace_id")];
  for (const auto& r : b.records) ++seen[str(r, "trace_id")];
  CHECK(seen.size() == static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) CHECK(seen[hex(0xb000 + static_cast<unsigned>(i), 32)] == 1);
}

TEST_CASE("--file-mode spans writes one span per line") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", out, "--file-mode", "spans"});
  REQUIRE(d.wait_ready());
  SocketClient c(d.socket_path());
  const std::string tid = "5a";
  REQUIRE(c.write_all(trace_line(tid, "run-s", {SpanSpec(tid, "1").named("root"), SpanSpec(tid, "2", "1").named("a"),
                                               SpanSpec(tid, "3", "1").named("b")})));
  REQUIRE(c.flush(1));
  REQUIRE(wait_until([&] { return count_lines(out) >= 3; }));
  auto st = d.terminate();
  REQUIRE(st);
  auto file = read_ndjson(out);
  CHECK(file.bad_lines == 0);
  REQUIRE(file.records.size() == 3);
  std::map<std::string, int> ids;
  for (const auto& r : file.records) {
    CHECK_FALSE(r.HasMember("spans"));
    CHECK(str(r, "trace_id") == trace_hex(tid));
    ++ids[str(r, "span_id")];
  }
  CHECK(ids[span_hex("1")] == 1);
  CHECK(ids[span_hex("2")] == 1);
  CHECK(ids[span_hex("3")] == 1);
}
}
