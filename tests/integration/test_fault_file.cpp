// Fault injection on --export-file (issue #6): a full disk (RLIMIT_FSIZE set on the
// running daemon with prlimit(2); a real ENOSPC on a small tmpfs where mount works) and
// logrotate-style rotation (rename, then SIGHUP) 100 times under load.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cstdio>
#include <map>
#include <functional>

#include "tests/integration/export_fixture.hpp"

using namespace tracecol::integration;
using namespace tracecol::integration::fixture;

namespace {

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

/** The ndjson exporter's counters from /metrics. */
ExporterMetrics ndjson_metrics(HttpDaemon& h) {
  auto m = exporter_metrics(h, "ndjson");
  REQUIRE(m);
  return *m;
}

/**
 * Every complete line of the file parses; the trace ids in it. While the daemon may be
 * writing, the last line can lack its '\n' for the moment a reader catches a write() in
 * progress (a write to a regular file is not atomic to readers: this bit CI once, with
 * bad == 2 for one torn tail counted twice), so a tail is only refused `at_rest`.
 */
std::map<std::string, int> whole_lines(const std::string& path, bool at_rest = false) {
  std::string text = read_file(path);
  if (!at_rest) text.resize(text.rfind('\n') + 1);  // npos + 1 == 0: no complete line yet
  const NdjsonFile f = parse_ndjson(text);
  std::map<std::string, int> seen;
  for (const auto& rec : f.records) ++seen[str(rec, "trace_id")];
  CHECK(f.bad_lines == 0);
  CHECK(!f.torn_tail);
  return seen;
}

/**
 * The full-disk scenario: 40 traces land; `fill` leaves room for a few more; 20
 * traces arrive while full; `make_room` gives space back and 20 more must land within
 * 5 s. The file never holds a partial line, and file lines + failed + dropped == traces.
 */
void full_disk(HttpDaemon& h, const std::string& file, const std::function<void(std::uint64_t)>& fill,
               const std::function<void()>& make_room) {
  std::vector<std::string> ids = send_traces(h.daemon.socket_path(), 0, 40);
  REQUIRE(wait_until([&] { return count_lines(file) == 40; }));
  const std::uint64_t record = file_size(file) / 40;
  fill(file_size(file) + record * 7 / 2);

  const auto during = send_traces(h.daemon.socket_path(), 1000, 20);
  ids.insert(ids.end(), during.begin(), during.end());
  // Records fail after their retries; the file is read meanwhile: only whole lines, ever.
  REQUIRE(wait_until([&] {
    whole_lines(file);
    return ndjson_metrics(h).failed >= 5;
  }));
  const std::uint64_t lines_while_full = count_lines(file);
  CHECK(lines_while_full < 60);
  CHECK(lines_while_full >= 40);

  make_room();
  const auto after = send_traces(h.daemon.socket_path(), 2000, 20);
  ids.insert(ids.end(), after.begin(), after.end());
  // Writing resumes within 5 s of the space coming back (the bound).
  CHECK(wait_until([&] {
    const auto seen = whole_lines(file);
    for (const auto& id : after)
      if (!seen.count(id)) return false;
    return true;
  }, 5s));
  REQUIRE(wait_until([&] {
    const auto m = ndjson_metrics(h);
    return m.pending == 0 && m.settled() == ids.size();
  }));
  const auto seen = whole_lines(file, true);  // nothing pending: no write in progress either
  const auto m = ndjson_metrics(h);
  INFO("lines " << seen.size() << ", failed " << m.failed << ", dropped " << m.dropped);
  for (const auto& [id, n] : seen) CHECK_MESSAGE(n == 1, id);
  CHECK(m.sent == seen.size());
  CHECK(seen.size() + m.failed + m.dropped == ids.size());
  CHECK(m.failed >= 5);
  CHECK(store_has_all(h, ids));  // the store is not the disk
  for (const auto& id : after) CHECK(seen.count(id) == 1);
  // The operator hears of it, with the reason, not only in a counter.
  CHECK(h.daemon.err().find("export-file " + file + ": ") != std::string::npos);
  CHECK(h.daemon.err().find("a trace record was dropped") != std::string::npos);
}

/** Mounts a tmpfs of `size` at dir; false when this process may not (no root, no CAP_SYS_ADMIN). */
bool mount_tmpfs(const std::string& dir, const std::string& size) {
  return ::mount("tracecol-test", dir.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) == 0;
}

}  // namespace

TEST_SUITE("fault: file export") {
TEST_CASE("RLIMIT_FSIZE on the running daemon: no partial lines, drops counted exactly, writing resumes") {
  TempDir dir;
  const std::string file = dir.file("out.ndjson");
  HttpDaemon h(dir, {"--trace-linger", "50ms", "--export-file", file});
  rlimit original{};
  REQUIRE(::prlimit(h.daemon.pid(), RLIMIT_FSIZE, nullptr, &original) == 0);
  full_disk(
      h, file,
      [&](std::uint64_t limit) {
        rlimit small = original;
        small.rlim_cur = limit;
        // SIGXFSZ would kill a daemon that did not ignore it; EFBIG must be handled instead.
        REQUIRE(::prlimit(h.daemon.pid(), RLIMIT_FSIZE, &small, nullptr) == 0);
      },
      [&] { REQUIRE(::prlimit(h.daemon.pid(), RLIMIT_FSIZE, &original, nullptr) == 0); });
  CHECK(h.daemon.running());
  auto st = h.daemon.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}

TEST_CASE("ENOSPC on a small tmpfs (where mount works): no partial lines, drops counted exactly, writing resumes") {
  TempDir dir;
  const std::string mnt = dir.file("disk");
  REQUIRE(::mkdir(mnt.c_str(), 0700) == 0);
  if (!mount_tmpfs(mnt, "1m")) {
    MESSAGE("skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN); RLIMIT_FSIZE covers the case");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string file = mnt + "/out.ndjson";
  {
    HttpDaemon h(dir, {"--trace-linger", "50ms", "--export-file", file});
    full_disk(
        h, file,
        [&](std::uint64_t) {
          // Shrink the filesystem to the pages in use plus one: a few records more fit.
          struct statfs fs {};
          REQUIRE(::statfs(mnt.c_str(), &fs) == 0);
          const std::uint64_t used = static_cast<std::uint64_t>(fs.f_blocks - fs.f_bfree) + 1;
          REQUIRE(::mount("tracecol-test", mnt.c_str(), "tmpfs", MS_REMOUNT,
                          ("size=" + std::to_string(used * static_cast<std::uint64_t>(fs.f_bsize))).c_str()) == 0);
        },
        [&] { REQUIRE(::mount("tracecol-test", mnt.c_str(), "tmpfs", MS_REMOUNT, "size=8m") == 0); });
    auto st = h.daemon.terminate();
    REQUIRE(st);
    CHECK(exit_code(*st) == 0);
  }
}

TEST_CASE("rename + SIGHUP 100 times under load: every span exactly once across the files") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--trace-linger", "50ms", "--export-file", out});
  REQUIRE(d.wait_ready());
  constexpr int spans_per_trace = 5;
  Load load(d.socket_path(), 5000, spans_per_trace, 0x40000);
  std::vector<std::string> files;
  auto next_at = std::chrono::steady_clock::now();
  for (int i = 1; i <= 100; ++i) {
    // The previous SIGHUP reopened the path and a record landed there: rotate it away,
    // every 150 ms or so, so the rotations spread over 15 s of steady load.
    next_at += 150ms;
    REQUIRE(wait_until([&] { return count_lines(out) > 0 && std::chrono::steady_clock::now() >= next_at; }));
    const std::string rotated = out + "." + std::to_string(i);
    REQUIRE(std::rename(out.c_str(), rotated.c_str()) == 0);
    files.push_back(rotated);
    d.signal(SIGHUP);
  }
  REQUIRE(load.stop());
  files.push_back(out);
  const auto ids = load.ids();
  MESSAGE("traces sent: " << ids.size());
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);

  std::map<std::string, int> spans;  // "trace_id/span_id"
  std::size_t bad = 0;
  std::size_t with_records = 0;
  for (const auto& path : files) {
    const NdjsonFile f = read_ndjson(path);
    bad += f.bad_lines + (f.torn_tail ? 1 : 0);
    with_records += !f.records.empty();
    for (const auto& rec : f.records)
      for (const auto& s : rec["spans"].GetArray()) ++spans[str(rec, "trace_id") + "/" + str(s, "span_id")];
  }
  CHECK(bad == 0);
  CHECK(with_records >= 100);
  CHECK(spans.size() == ids.size() * spans_per_trace);
  std::size_t wrong = 0;
  for (const auto& id : ids)
    for (int s = 1; s <= spans_per_trace; ++s) {
      const auto it = spans.find(id + "/" + hex(static_cast<unsigned long long>(s), 16));
      if (it == spans.end() || it->second != 1) ++wrong;
    }
  CHECK(wrong == 0);
  const std::string section = exit_section(d.err(), "ndjson");
  INFO(section);
  CHECK(field(section, "sent") == ids.size());
  CHECK(field(section, "dropped") == 0);
  CHECK(field(section, "failed") == 0);
  CHECK(d.err().find("SIGHUP") != std::string::npos);
}
}
