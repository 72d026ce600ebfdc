// Load: 50 concurrent agents, 100,000 spans in random write sizes with bad lines mixed in.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <map>
#include <random>
#include <thread>
#include <unordered_map>

#include "tests/integration/harness.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

constexpr int connections = 50;
constexpr int traces_per_connection = 40;
constexpr int spans_per_trace = 50;
constexpr int bad_every = 97;  // one bad line after every 97th good span

const char* const bad_lines[] = {
    "this is not json",
    R"({"type":"span","trace_id":"xyz","span_id":"1"})",
    R"({"type":"nope"})",
    "[1,2,3]",
    R"({"type":"span","trace_id":"ab","span_id":"1","name":"x","started_at":"soon"})",
};

struct ConnResult {
  bool connected = false;
  bool written = false;
  std::optional<Flushed> flushed;
  long good = 0;
  long bad = 0;
};

std::string trace_id_of(int conn, int t) { return hex(0xabc0000000ULL + static_cast<unsigned long long>(conn) * 1000 + t, 32); }

/** Span ids are unique across the whole run: conn * 1e6 + trace * 1e3 + index + 1. */
std::string span_id_of(int conn, int t, int i) {
  return hex(static_cast<unsigned long long>(conn) * 1000000ULL + static_cast<unsigned long long>(t) * 1000 + i + 1, 16);
}

std::string build_stream(int conn, std::mt19937_64& rng, ConnResult& res) {
  std::uniform_int_distribution<int> pad_len(150, 450);
  std::string out;
  long since_bad = 0;
  for (int t = 0; t < traces_per_connection; ++t) {
    const std::string tid = trace_id_of(conn, t);
    const double t0 = 1732500000.0 + conn + t * 0.01;
    for (int i = 0; i < spans_per_trace; ++i) {
      SpanSpec s(tid, span_id_of(conn, t, i), i == 0 ? std::string() : span_id_of(conn, t, (i - 1) / 2));
      s.run("run-" + std::to_string(conn)).named("load.step").of_kind(i == 0 ? "AGENT" : "TOOL")
          .at(t0 + i * 1e-4, t0 + 0.5 - i * 1e-4)
          .with(R"("inputs":{"pad":")" + std::string(static_cast<std::size_t>(pad_len(rng)), 'x') + "\"}");
      out += span_line(s);
      ++res.good;
      if (++since_bad == bad_every) {
        out += bad_lines[static_cast<std::size_t>(res.bad) % std::size(bad_lines)];
        out += '\n';
        ++res.bad;
        since_bad = 0;
      }
    }
    out += trace_end_line(tid);
    ++res.good;
  }
  return out;
}

}  // namespace

TEST_SUITE("load") {
TEST_CASE("50 concurrent connections sending 100000 spans in random write sizes lose and duplicate nothing") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-file", out, "--max-traces", "5000", "--log-level", "error"});
  REQUIRE(d.wait_ready());

  std::vector<ConnResult> results(connections);
  std::vector<std::thread> threads;
  for (int conn = 0; conn < connections; ++conn) {
    threads.emplace_back([&, conn] {
      auto& res = results[static_cast<std::size_t>(conn)];
      std::mt19937_64 rng(0x5eed0000ULL + static_cast<unsigned long long>(conn));
      const std::string stream = build_stream(conn, rng, res);
      SocketClient c(d.socket_path());
      res.connected = c.connected();
      if (!res.connected) return;
      res.written = c.write_chunked(stream, rng, 64 * 1024);
      if (res.written) res.flushed = c.flush(1000 + conn, std::chrono::seconds(120));
    });
  }
  for (auto& t : threads) t.join();

  long total_bad = 0;
  for (int conn = 0; conn < connections; ++conn) {
    const auto& res = results[static_cast<std::size_t>(conn)];
    INFO("connection " << conn);
    CHECK(res.connected);
    CHECK(res.written);
    REQUIRE(res.flushed);
    CHECK(res.flushed->id == 1000 + conn);
    CHECK(res.flushed->accepted == res.good);
    CHECK(res.flushed->rejected == res.bad);
    total_bad += res.bad;
  }
  CHECK(total_bad > 0);

  const std::size_t expected_traces = connections * traces_per_connection;
  const bool all_there = wait_until([&] { return count_lines(out) >= expected_traces; },
                                    std::chrono::seconds(120), std::chrono::milliseconds(250));
  CHECK(all_there);

  // Check every span exactly once, inside its own trace's record.
  const std::string text = read_file(out);
  std::unordered_map<std::string, int> seen;  // trace_id + span_id -> count
  std::map<std::string, int> records_per_trace;
  std::size_t bad = 0;
  std::size_t misplaced = 0;
  std::size_t incomplete = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    rapidjson::Document doc;
    doc.Parse(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("spans") || !doc["spans"].IsArray()) {
      ++bad;
      continue;
    }
    const std::string tid = str(doc, "trace_id");
    ++records_per_trace[tid];
    if (!flag(doc, "complete")) ++incomplete;
    for (const auto& s : doc["spans"].GetArray()) {
      if (str(s, "trace_id") != tid) ++misplaced;
      ++seen[tid + "/" + str(s, "span_id")];
    }
  }
  CHECK(bad == 0);
  CHECK(misplaced == 0);
  CHECK(incomplete == 0);
  CHECK(records_per_trace.size() == expected_traces);
  std::size_t missing = 0;
  std::size_t duplicated = 0;
  for (int conn = 0; conn < connections; ++conn) {
    for (int t = 0; t < traces_per_connection; ++t) {
      const std::string tid = trace_id_of(conn, t);
      if (records_per_trace[tid] != 1) ++duplicated;
      for (int i = 0; i < spans_per_trace; ++i) {
        const auto it = seen.find(tid + "/" + span_id_of(conn, t, i));
        if (it == seen.end()) {
          ++missing;
        } else if (it->second != 1) {
          ++duplicated;
        }
      }
    }
  }
  CHECK(missing == 0);
  CHECK(duplicated == 0);
  CHECK(seen.size() == static_cast<std::size_t>(connections) * traces_per_connection * spans_per_trace);

  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
}
}
