// Hostile input: the corpus, oversize lines, garbage, torn connections, odd line endings, deep nesting.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <random>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/proc_probe.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

std::string good_span(const std::string& trace, const std::string& span) { return span_line(SpanSpec(trace, span)); }

/** Starts a daemon exporting to dir/out.ndjson with extra args. */
std::vector<std::string> args_with(const TempDir& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"--export-file", dir.file("out.ndjson")};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

/** The corpus README's `| file | reason |` rows. */
std::map<std::string, std::string> corpus_reasons(const std::string& readme) {
  std::map<std::string, std::string> out;
  std::istringstream in(read_file(readme));
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 2 || line[0] != '|') continue;
    const auto mid = line.find('|', 1);
    const auto end = mid == std::string::npos ? mid : line.find('|', mid + 1);
    if (end == std::string::npos) continue;
    auto trim = [](std::string t) {
      while (!t.empty() && t.front() == ' ') t.erase(0, 1);
      while (!t.empty() && t.back() == ' ') t.pop_back();
      return t;
    };
    const std::string file = trim(line.substr(1, mid - 1));
    const std::string reason = trim(line.substr(mid + 1, end - mid - 1));
    if (file.find('.') != std::string::npos) out[file] = reason;
  }
  return out;
}

}  // namespace

TEST_SUITE("hostile") {
TEST_CASE("every corpus line is rejected exactly once and the connection keeps working") {
  const std::filesystem::path corpus = TRACECOL_CORPUS_DIR;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (std::filesystem::is_directory(corpus, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(corpus, ec)) {
      if (!e.is_regular_file() || e.path().filename() == "README.md") continue;
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  const auto reasons = corpus_reasons((corpus / "README.md").string());
  INFO("corpus dir: " << corpus.string());
  REQUIRE_MESSAGE(!files.empty(), "the hostile corpus at " << corpus.string()
                                      << " is missing or holds no files besides README.md");

  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), args_with(dir));
  REQUIRE(d.wait_ready());
  std::int64_t flush_id = 0;
  for (const auto& path : files) {
    std::string payload = read_file(path.string());
    if (!payload.empty() && payload.back() == '\n') payload.pop_back();
    INFO("corpus file: " << path.filename().string() << " (" << payload.size() << " bytes)");
    CHECK_MESSAGE(payload.find('\n') == std::string::npos, "corpus file holds more than one line");
    SocketClient c(d.socket_path());
    REQUIRE(c.connected());
    REQUIRE(c.write_all(payload + "\n"));
    auto f = c.flush(++flush_id);
    REQUIRE_MESSAGE(f, "no flushed reply after the corpus line");
    CHECK(f->accepted == 0);
    CHECK(f->rejected == 1);
    // The README table names the reason; the reply's last_error is that reason's name.
    if (const auto it = reasons.find(path.filename().string()); it != reasons.end()) {
      CHECK(f->last_error == it->second);
    }
    CHECK(d.running());
    REQUIRE(c.write_all(good_span("c0ffee", std::to_string(flush_id))));
    auto g = c.flush(++flush_id);
    REQUIRE(g);
    CHECK(g->accepted == 1);
    CHECK(g->rejected == 1);
  }
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}

TEST_CASE("a 2 MiB line is rejected once and the next line is accepted") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), args_with(dir));
  REQUIRE(d.wait_ready());
  SocketClient c(d.socket_path());
  REQUIRE(c.connected());
  const std::string huge = span_json(SpanSpec("1", "1").with(R"("inputs":{"pad":")" + std::string(2 << 20, 'x') + "\"}"));
  REQUIRE(c.write_all(huge + "\n" + good_span("2", "1")));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->rejected == 1);
  CHECK(f->accepted == 1);
  CHECK(d.running());
}

TEST_CASE("seeded random binary garbage never kills the daemon") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), args_with(dir));
  REQUIRE(d.wait_ready());
  std::mt19937_64 rng(0xbadbadULL);
  std::string garbage(1 << 20, '\0');
  for (auto& ch : garbage) ch = static_cast<char>(rng() & 0xff);
  {
    SocketClient c(d.socket_path());
    REQUIRE(c.connected());
    REQUIRE(c.write_chunked(garbage + "\n", rng, 64 * 1024));
    REQUIRE(c.write_all(good_span("3", "1")));
    auto f = c.flush(1);
    REQUIRE(f);
    CHECK(f->accepted == 1);
    CHECK(f->rejected > 0);
  }
  {
    // Garbage with no newline at all, then the peer vanishes.
    SocketClient c(d.socket_path());
    REQUIRE(c.connected());
    std::string no_nl = garbage.substr(0, 200000);
    std::replace(no_nl.begin(), no_nl.end(), '\n', ' ');
    c.write_all(no_nl);
  }
  CHECK(d.running());
  SocketClient after(d.socket_path());
  REQUIRE(after.write_all(good_span("4", "1")));
  auto f = after.flush(2);
  REQUIRE(f);
  CHECK(f->accepted == 1);
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}

TEST_CASE("a connection closed mid-line drops the partial line and the daemon goes on") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), args_with(dir, {"--trace-linger", "50ms"}));
  REQUIRE(d.wait_ready());
  {
    SocketClient c(d.socket_path());
    REQUIRE(c.connected());
    const std::string line = good_span("dead", "1");
    REQUIRE(c.write_all(line.substr(0, line.size() / 2)));
  }
  SocketClient c2(d.socket_path());
  REQUIRE(c2.write_all(good_span("a11e", "1")));
  auto f = c2.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == 1);
  CHECK(f->rejected == 0);
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  auto file = read_ndjson(dir.file("out.ndjson"));
  CHECK(records_for(file, trace_hex("dead")).empty());
  CHECK(records_for(file, trace_hex("a11e")).size() == 1);
  CHECK(d.err().find("partial_dropped=1") != std::string::npos);
}

TEST_CASE("a connect-garbage-close loop does not write a log line per connection") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), args_with(dir));
  REQUIRE(d.wait_ready());
  constexpr int loops = 300;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < loops; ++i) {
    SocketClient c(d.socket_path());
    REQUIRE(c.connected());
    REQUIRE(c.write_all("x\n"));
  }
  // Every close is read before the drain ends: the exit summary counts them all.
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  const std::string err = d.err();
  std::size_t closes = 0, lines = 0;
  for (std::size_t at = 0; (at = err.find(" closed: ", at)) != std::string::npos; ++at) ++closes;
  for (char ch : err) lines += ch == '\n';
  INFO("stderr: " << err);
  CHECK(summary_field(err, "rejected") == std::optional<std::uint64_t>(loops));
  INFO("stderr lines: " << lines << ", connection summaries: " << closes << ", seconds: " << seconds);
  // Five a second per limiter (rejected lines, connection summaries), plus a "suppressed"
  // note each, whatever the loop's speed (it was one summary per connection).
  // A run of s whole seconds touches at most s + 2 of the limiter's one-second windows.
  CHECK(closes <= static_cast<std::size_t>(5 * (seconds + 2)));
  CHECK(lines <= static_cast<std::size_t>(30 * (seconds + 2)) + 20);
}

TEST_CASE("agents holding unfinished long lines share --max-line-buffer-bytes and never pass it") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), args_with(dir, {"--max-line-buffer-bytes", "4MiB", "--trace-linger", "50ms"}));
  REQUIRE(d.wait_ready());
  // 20 agents each send 900 KB of one line and stop there: 18 MB if each were buffered.
  constexpr int agents = 20;
  std::vector<std::unique_ptr<SocketClient>> clients;
  const std::string head = R"({"type":"span","trace_id":"1","span_id":"1","started_at":1732500001,"name":")";
  for (int i = 0; i < agents; ++i) {
    clients.push_back(std::make_unique<SocketClient>(d.socket_path()));
    REQUIRE(clients.back()->connected());
    REQUIRE(clients.back()->write_all(head + std::string(900'000, 'A')));
  }
  // Each line ends; then a good span on every connection: every connection goes on.
  int dropped = 0, whole = 0;
  for (int i = 0; i < agents; ++i) {
    auto& c = *clients[static_cast<std::size_t>(i)];
    REQUIRE(c.write_all("\"}\n" + good_span(std::to_string(0x100 + i), "1")));
    const auto f = c.flush(1);
    REQUIRE(f);
    CHECK(f->accepted + f->rejected == 2);  // the long line (whole or dropped), then the good span
    if (f->rejected == 1) {
      CHECK(f->last_error == "line_buffer_full");
      ++dropped;
    } else {
      ++whole;
    }
  }
  // 4 MiB holds at most four 900 KB lines at once (each buffer past its free 128 KiB).
  CHECK(whole >= 1);
  CHECK(whole <= 4);
  CHECK(dropped == agents - whole);
  clients.clear();
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  CHECK(summary_field(d.err(), "rejected.line_buffer_full") == std::optional<std::uint64_t>(dropped));
}

TEST_CASE("CRLF line endings and blank lines are accepted and not counted") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), args_with(dir));
  REQUIRE(d.wait_ready());
  SocketClient c(d.socket_path());
  std::string a = good_span("c1", "1");
  a.insert(a.end() - 1, '\r');
  std::string b = good_span("c1", "2");
  b.insert(b.size() - 1, " \t\r");  // JSON allows trailing whitespace
  REQUIRE(c.write_all("\n\r\n" + a + "\n\n" + b + "\r\n" + trace_end_line("c1")));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == 3);
  CHECK(f->rejected == 0);
  REQUIRE(wait_until([&] { return count_lines(dir.file("out.ndjson")) >= 1; }));
  auto file = read_ndjson(dir.file("out.ndjson"));
  REQUIRE(file.records.size() == 1);
  CHECK(num(file.records[0], "span_count") == 2);
}

TEST_CASE("raw CR and tab as JSON whitespace in inputs, outputs and metadata leave every record one line") {
  TempDir dir;
  HttpDaemon h(dir, args_with(dir));
  SocketClient c(h.daemon.socket_path());
  REQUIRE(c.connected());
  const std::string line = span_json(SpanSpec("c7", "1").with(
      "\"inputs\":{\"a\":\r1,\r\"b\":\t2,\"s\":\"x\\r\\ny\"},\"outputs\":{\r\"o\":\r3},\"metadata\":{\"m\":\r\"v\"}"));
  REQUIRE(c.write_all(line + "\n" + trace_end_line("c7")));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->accepted == 2);
  // No raw CR, LF or tab reaches a record; the escaped ones inside the string stay escaped.
  const auto one_line = [](const std::string& text) {
    return text.find('\r') == std::string::npos && text.find('\t') == std::string::npos &&
           text.find('\n') == std::string::npos;
  };
  auto got = h.get("/api/traces/c7");
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(one_line(got->body));
  CHECK(got->body.find(R"("inputs":{"a": 1, "b": 2,"s":"x\r\ny"})") != std::string::npos);
  CHECK(got->body.find(R"("outputs":{ "o": 3})") != std::string::npos);
  REQUIRE(wait_until([&] { return count_lines(dir.file("out.ndjson")) >= 1; }));
  const std::string file = read_file(dir.file("out.ndjson"));
  REQUIRE(file.ends_with('\n'));
  CHECK(one_line(file.substr(0, file.size() - 1)));  // so a universal-newline reader sees one record
  auto ndjson = parse_ndjson(file);
  REQUIRE(ndjson.records.size() == 1);
  CHECK(raw(ndjson.records[0]["spans"][0], "metadata").starts_with(R"({"m":"v")"));
}

TEST_CASE("10000 deeply nested lines are rejected without unbounded RSS growth") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), args_with(dir));
  REQUIRE(d.wait_ready());
  SocketClient c(d.socket_path());
  REQUIRE(c.connected());
  constexpr int depth = 500;  // far beyond the nesting limit (64)
  std::string nested;
  for (int i = 0; i < depth; ++i) nested += R"({"a":)";
  nested += "1";
  nested += std::string(depth, '}');
  const std::string line = span_json(SpanSpec("dee9", "1").with(R"("inputs":)" + nested)) + "\n";
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += line;

  REQUIRE(c.write_all(batch));
  auto warm = c.flush(1);
  REQUIRE(warm);
  CHECK(warm->rejected == 1000);
  const long rss_warm = d.rss_kib();
  for (int round = 0; round < 9; ++round) REQUIRE(c.write_all(batch));
  auto f = c.flush(2);
  REQUIRE(f);
  CHECK(f->rejected == 10000);
  CHECK(f->accepted == 0);
  const long rss_end = d.rss_kib();
  INFO("VmRSS after 1000 lines: " << rss_warm << " KiB, after 10000: " << rss_end << " KiB");
  CHECK(rss_warm > 0);
  // 9000 more lines (~23 MiB): retaining them, or a DOM per line, would blow past this.
  CHECK(rss_end < rss_warm + 128 * 1024);
  CHECK(d.running());
}
}
