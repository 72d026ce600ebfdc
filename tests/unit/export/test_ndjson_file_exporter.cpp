#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "daemon/export/fan_out.hpp"
#include "daemon/export/ndjson_file_exporter.hpp"
#include "export_test_support.hpp"

namespace tracecol::exporters {
namespace {

using test::make_trace;
using test::read_all;
using test::split_lines;

NdjsonFileOptions options_for(const std::string& path) {
  NdjsonFileOptions o;
  o.path = path;
  o.retry_backoff = std::chrono::milliseconds(0);
  return o;
}

/** Parses one line as a JSON object; returns false when it is not one. */
bool parse_object(const std::string& line, rapidjson::Document& doc) {
  doc.Parse(line.data(), line.size());
  return !doc.HasParseError() && doc.IsObject();
}

/** Every line of the file must be a whole JSON object; returns the trace ids' low halves. */
std::vector<std::uint64_t> trace_ids_in(const std::string& path, bool& all_valid) {
  std::vector<std::uint64_t> ids;
  bool partial = false;
  const auto lines = split_lines(read_all(path), &partial);
  all_valid = !partial;
  for (const auto& line : lines) {
    rapidjson::Document d;
    if (!parse_object(line, d) || !d.HasMember("trace_id") || !d["trace_id"].IsString()) {
      all_valid = false;
      continue;
    }
    const std::string hex = d["trace_id"].GetString();
    ids.push_back(std::stoull(hex.substr(16), nullptr, 16));
  }
  return ids;
}

TEST_SUITE("export.ndjson_file") {
  TEST_CASE("writes one valid JSON line per trace") {
    test::TempDir dir;
    const auto path = dir.file("traces.ndjson");
    {
      NdjsonFileExporter out(options_for(path));
      for (std::uint64_t i = 1; i <= 3; ++i) CHECK(out.export_trace(*make_trace(i, 3)) == ExportStatus::ok);
      CHECK(out.stats().bytes_written == std::filesystem::file_size(path));
    }
    const auto lines = split_lines(read_all(path));
    REQUIRE(lines.size() == 3);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      rapidjson::Document d;
      REQUIRE(parse_object(lines[i], d));
      CHECK(std::string(d["trace_id"].GetString()) == make_trace(i + 1)->trace_id.hex());
      REQUIRE(d["spans"].IsArray());
      CHECK(d["spans"].Size() == 3);
    }
    CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::others_all) ==
          std::filesystem::perms::none);
  }

  TEST_CASE("spans mode writes one line per span with its tree depth") {
    test::TempDir dir;
    const auto path = dir.file("spans.ndjson");
    auto o = options_for(path);
    o.mode = FileMode::spans;
    NdjsonFileExporter out(o);
    CHECK(out.export_trace(*make_trace(9, 4)) == ExportStatus::ok);
    const auto lines = split_lines(read_all(path));
    REQUIRE(lines.size() == 4);
    std::set<std::uint64_t> seen;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      rapidjson::Document d;
      REQUIRE(parse_object(lines[i], d));
      REQUIRE(d.HasMember("depth"));
      REQUIRE(d.HasMember("trace_id"));
      CHECK(std::string(d["trace_id"].GetString()) == make_trace(9)->trace_id.hex());
      CHECK(d["depth"].GetInt() == (i == 0 ? 0 : 1));
      seen.insert(std::stoull(d["span_id"].GetString(), nullptr, 16));
    }
    CHECK(seen == std::set<std::uint64_t>{1, 2, 3, 4});
  }

  TEST_CASE("two exporters appending to one file never interleave partial lines") {
    test::TempDir dir;
    const auto path = dir.file("shared.ndjson");
    NdjsonFileExporter a(options_for(path));
    NdjsonFileExporter b(options_for(path));
    constexpr std::uint64_t n = 400;
    auto writer = [&](NdjsonFileExporter& out, std::uint64_t first) {
      for (std::uint64_t i = 0; i < n; ++i) out.export_trace(*make_trace(first + i, 40));  // ~10 KB lines
    };
    std::thread ta(writer, std::ref(a), 1);
    std::thread tb(writer, std::ref(b), 1 + n);
    ta.join();
    tb.join();
    bool valid = false;
    const auto ids = trace_ids_in(path, valid);
    CHECK(valid);
    CHECK(ids.size() == 2 * n);
    CHECK(std::set<std::uint64_t>(ids.begin(), ids.end()).size() == 2 * n);
  }

  TEST_CASE("rotation keeps every record exactly once and never splits a line") {
    test::TempDir dir;
    const auto path = dir.file("rot.ndjson");
    std::string one;
    {
      NdjsonFileExporter probe(options_for(dir.file("probe")));
      probe.export_trace(*make_trace(1));
      one = read_all(dir.file("probe"));
    }
    auto o = options_for(path);
    o.max_bytes = 3 * one.size() + one.size() / 2;  // three records a file
    o.max_backups = 10;
    NdjsonFileExporter out(o);
    for (std::uint64_t i = 1; i <= 20; ++i) REQUIRE(out.export_trace(*make_trace(i)) == ExportStatus::ok);
    CHECK(out.stats().rotations == 6);
    std::multiset<std::uint64_t> all;
    std::vector<std::string> files{path};
    for (int k = 1; k <= 6; ++k) files.push_back(path + "." + std::to_string(k));
    for (const auto& f : files) {
      REQUIRE(std::filesystem::exists(f));
      CHECK(std::filesystem::file_size(f) <= o.max_bytes);
      bool valid = false;
      for (auto id : trace_ids_in(f, valid)) all.insert(id);
      CHECK(valid);
    }
    CHECK_FALSE(std::filesystem::exists(path + ".7"));
    CHECK(all.size() == 20);
    CHECK(std::set<std::uint64_t>(all.begin(), all.end()).size() == 20);
  }

  TEST_CASE("rotation keeps at most max_backups files, the newest records") {
    test::TempDir dir;
    const auto path = dir.file("rot.ndjson");
    auto o = options_for(path);
    o.max_bytes = 1;  // every record but the first in a file rotates: one record a file
    o.max_backups = 2;
    NdjsonFileExporter out(o);
    for (std::uint64_t i = 1; i <= 10; ++i) REQUIRE(out.export_trace(*make_trace(i)) == ExportStatus::ok);
    CHECK(out.stats().rotations == 9);
    CHECK_FALSE(std::filesystem::exists(path + ".3"));
    bool valid = false;
    CHECK(trace_ids_in(path, valid) == std::vector<std::uint64_t>{10});
    CHECK(trace_ids_in(path + ".1", valid) == std::vector<std::uint64_t>{9});
    CHECK(trace_ids_in(path + ".2", valid) == std::vector<std::uint64_t>{8});
    CHECK(valid);
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 3);
  }

  TEST_CASE("a record larger than max_bytes is written whole, alone in a fresh file") {
    test::TempDir dir;
    const auto path = dir.file("big.ndjson");
    auto o = options_for(path);
    o.max_bytes = 2000;
    NdjsonFileExporter out(o);
    REQUIRE(out.export_trace(*make_trace(1, 1)) == ExportStatus::ok);   // small
    REQUIRE(out.export_trace(*make_trace(2, 40)) == ExportStatus::ok);  // ~10 KB
    REQUIRE(out.export_trace(*make_trace(3, 1)) == ExportStatus::ok);
    CHECK(out.stats().rotations == 2);
    bool valid = false;
    CHECK(trace_ids_in(path + ".2", valid) == std::vector<std::uint64_t>{1});
    CHECK(trace_ids_in(path + ".1", valid) == std::vector<std::uint64_t>{2});
    CHECK(std::filesystem::file_size(path + ".1") > o.max_bytes);
    CHECK(trace_ids_in(path, valid) == std::vector<std::uint64_t>{3});
    CHECK(valid);
  }

  TEST_CASE("reopen after an outside rename writes a new file at the path") {
    test::TempDir dir;
    const auto path = dir.file("app.ndjson");
    NdjsonFileExporter out(options_for(path));
    REQUIRE(out.export_trace(*make_trace(1)) == ExportStatus::ok);
    std::filesystem::rename(path, path + ".old");
    REQUIRE(out.export_trace(*make_trace(2)) == ExportStatus::ok);  // still the renamed file
    out.reopen();
    REQUIRE(out.export_trace(*make_trace(3)) == ExportStatus::ok);
    out.flush();
    bool valid = false;
    CHECK(trace_ids_in(path + ".old", valid) == std::vector<std::uint64_t>{1, 2});
    CHECK(trace_ids_in(path, valid) == std::vector<std::uint64_t>{3});
    CHECK(valid);
    CHECK(out.stats().reopens == 1);
  }

  TEST_CASE("a full device fails the record and the fan-out counts it") {
    if (!std::filesystem::exists("/dev/full")) return;
    auto o = options_for("/dev/full");
    o.write_attempts = 2;
    auto owned = std::make_unique<NdjsonFileExporter>(o);
    auto* out = owned.get();
    FanOut fan;
    fan.add(std::move(owned));
    fan.start();
    fan.publish(make_trace(1, 3));
    fan.publish(make_trace(2, 3));
    REQUIRE(fan.drain(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
    fan.stop();
    const auto c = fan.counters().at(0);
    CHECK(c.traces_failed == 2);
    CHECK(c.spans_failed == 6);
    CHECK(c.traces_sent == 0);
    CHECK(out->stats().write_errors == 4);  // two attempts per record
    CHECK(out->stats().bytes_written == 0);
  }

  TEST_CASE("hitting RLIMIT_FSIZE leaves no partial line and writing resumes when raised") {
    test::TempDir dir;
    const auto path = dir.file("limited.ndjson");
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Child: exit codes report which step went wrong; no doctest here.
      ::signal(SIGXFSZ, SIG_IGN);
      NdjsonFileExporter out(options_for(path));
      if (out.export_trace(*make_trace(1, 5)) != ExportStatus::ok) ::_exit(10);
      const auto one = out.stats().bytes_written;
      rlimit lim{};
      if (::getrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(11);
      const rlimit tight{static_cast<rlim_t>(one + one / 2), lim.rlim_max};
      if (::setrlimit(RLIMIT_FSIZE, &tight) != 0) ::_exit(12);
      if (out.export_trace(*make_trace(2, 5)) != ExportStatus::failed) ::_exit(13);
      if (std::filesystem::file_size(path) != one) ::_exit(14);  // the partial line was cut
      if (out.stats().write_errors != 3) ::_exit(15);
      if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(16);
      if (out.export_trace(*make_trace(3, 5)) != ExportStatus::ok) ::_exit(17);
      bool valid = false;
      if (trace_ids_in(path, valid) != std::vector<std::uint64_t>{1, 3} || !valid) ::_exit(18);
      ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

}  // namespace
}  // namespace tracecol::exporters
