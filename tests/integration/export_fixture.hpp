#pragma once
// Shared setup for the exporter tests (test_http_export, test_fault_*): traces to send,
// a paced load generator, and readers for what arrived where — the receiver, the NDJSON
// file, the store (/api/traces), /metrics and the exit summary — so each test can check
// that every trace is in exactly one place, exactly once.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/http_receiver.hpp"
#include "tests/integration/proc_probe.hpp"
#include "tests/integration/wire.hpp"

namespace tracecol::integration::fixture {

/** Protocol lines for one complete trace: `spans` spans (a root, the rest its children) then trace_end. */
inline std::string trace_lines(unsigned long long id, int spans, const std::string& payload = {}) {
  const std::string t = hex(id, 8);
  std::string lines;
  for (int s = spans - 1; s >= 0; --s) {
    SpanSpec spec(t, hex(static_cast<unsigned long long>(s + 1), 16), s == 0 ? std::string() : hex(1, 16));
    spec.named(s == 0 ? "root" : "child").of_kind(s == 0 ? "AGENT" : "TOOL");
    if (!payload.empty()) spec.with(R"("inputs":{"text":")" + payload + R"("})");
    lines += span_line(spec);
  }
  lines += trace_end_line(t);
  return lines;
}

/** The 32-hex id trace_lines(id, ...) gets in the daemon's records. */
inline std::string trace_id_of(unsigned long long id) { return trace_hex(hex(id, 8)); }

/** n complete traces with ids base+1 .. base+n, flushed (every line applied); their 32-hex ids. */
inline std::vector<std::string> send_traces(const std::string& socket, int base, int n, int spans = 2) {
  SocketClient c(socket);
  REQUIRE(c.connected());
  std::string lines;
  std::vector<std::string> ids;
  for (int i = base + 1; i <= base + n; ++i) {
    lines += trace_lines(static_cast<unsigned long long>(i), spans);
    ids.push_back(trace_id_of(static_cast<unsigned long long>(i)));
  }
  REQUIRE(c.write_all(lines));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->rejected == 0);
  return ids;
}

/**
 * Sends complete traces from a thread of its own at about spans_per_second, in 10 ms
 * slices, until stop(); ids from first_id up. No assertions on its thread: stop() reports.
 */
class Load {
 public:
  Load(std::string socket, double spans_per_second, int spans_per_trace, unsigned long long first_id)
      : spans_per_trace_(spans_per_trace), next_(first_id), first_(first_id) {
    thread_ = std::thread([this, socket = std::move(socket), spans_per_second] { run(socket, spans_per_second); });
  }
  ~Load() { stop(); }
  /** Stops, flushes the connection (every sent line applied); true when every write and the flush worked. */
  bool stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return ok_.load();
  }
  /** Traces sent so far (ids first_id .. first_id + sent - 1). */
  std::uint64_t sent() const { return sent_.load(); }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (std::uint64_t i = 0; i < sent_.load(); ++i) out.push_back(trace_id_of(first_ + i));
    return out;
  }

 private:
  void run(const std::string& socket, double rate) {
    SocketClient c(socket);
    if (!c.connected()) {
      ok_.store(false);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    double owed = 0;
    std::uint64_t spans_sent = 0;
    while (!stop_.load()) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      owed = elapsed * rate - static_cast<double>(spans_sent);
      std::string lines;
      while (owed >= spans_per_trace_) {
        lines += trace_lines(next_++, spans_per_trace_);
        owed -= spans_per_trace_;
        spans_sent += static_cast<std::uint64_t>(spans_per_trace_);
        sent_.fetch_add(1);
      }
      if (!lines.empty() && !c.write_all(lines)) {
        ok_.store(false);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // pacing the load, not a test wait
    }
    auto f = c.flush(1);
    if (!f || f->rejected != 0) ok_.store(false);
  }

  int spans_per_trace_;
  unsigned long long next_;
  unsigned long long first_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ok_{true};
  std::atomic<std::uint64_t> sent_{0};
  std::thread thread_;
};

/** How many times each trace id arrived in NDJSON request bodies the receiver answered 2xx. */
inline std::map<std::string, int> arrivals(const HttpReceiver& r) {
  std::map<std::string, int> seen;
  for (const auto& req : r.requests()) {
    if (req.replied < 200 || req.replied >= 300) continue;
    const NdjsonFile f = parse_ndjson(req.body);
    for (const auto& rec : f.records) ++seen[str(rec, "trace_id")];
  }
  return seen;
}

/** How many times each trace id is in the NDJSON files (traces mode), and their bad lines. */
inline std::map<std::string, int> file_traces(const std::vector<std::string>& paths, std::size_t* bad_lines = nullptr,
                                              std::uint64_t* spans = nullptr) {
  std::map<std::string, int> seen;
  for (const auto& path : paths) {
    const NdjsonFile f = read_ndjson(path);
    if (bad_lines) *bad_lines += f.bad_lines + (f.torn_tail ? 1 : 0);
    for (const auto& rec : f.records) {
      ++seen[str(rec, "trace_id")];
      if (spans && rec.HasMember("spans") && rec["spans"].IsArray()) *spans += rec["spans"].Size();
    }
  }
  return seen;
}

/** True when seen holds exactly ids, each once; the first few differences go to the test log. */
inline bool exactly_once(const std::map<std::string, int>& seen, const std::vector<std::string>& ids) {
  bool ok = seen.size() == ids.size();
  int reported = 0;
  for (const auto& id : ids) {
    const auto it = seen.find(id);
    const int n = it == seen.end() ? 0 : it->second;
    if (n != 1) {
      ok = false;
      if (reported++ < 5) MESSAGE("trace " << id << " seen " << n << " times");
    }
  }
  if (seen.size() != ids.size()) MESSAGE(seen.size() << " distinct traces seen, " << ids.size() << " sent");
  return ok;
}

/** Every trace in the store (/api/traces, paged), with its span count. */
inline std::map<std::string, std::uint64_t> stored_traces(HttpDaemon& h) {
  std::map<std::string, std::uint64_t> out;
  std::string cursor;
  for (;;) {
    auto res = h.get("/api/traces?limit=1000" + (cursor.empty() ? std::string() : "&cursor=" + cursor));
    REQUIRE(res);
    REQUIRE(res->status == 200);
    rapidjson::Document d;
    d.Parse(res->body.c_str());
    REQUIRE(!d.HasParseError());
    for (const auto& t : d["traces"].GetArray()) out[str(t, "trace_id")] = static_cast<std::uint64_t>(num(t, "span_count"));
    if (!d["next_cursor"].IsString()) return out;
    cursor = d["next_cursor"].GetString();
  }
}

/** True when the store holds every id in ids. */
inline bool store_has_all(HttpDaemon& h, const std::vector<std::string>& ids) {
  const auto stored = stored_traces(h);
  for (const auto& id : ids)
    if (!stored.count(id)) return false;
  return true;
}

/** Sum of every sample of `family` whose labels contain `label` (e.g. exporter="ndjson"), any other labels (a reason) included. */
inline std::uint64_t metric_sum(const std::string& body, const std::string& family, const std::string& label) {
  std::uint64_t sum = 0;
  for (std::size_t at = 0; at < body.size();) {
    std::size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(at, end - at);
    at = end + 1;
    if (line.rfind(family + "{", 0) != 0 || line.find(label) == std::string::npos) continue;
    const std::size_t close = line.find("} ");
    if (close != std::string::npos) sum += std::strtoull(line.c_str() + close + 2, nullptr, 10);
  }
  return sum;
}

/** One exporter's counters from /metrics (traces). */
struct ExporterMetrics {
  std::uint64_t sent = 0, failed = 0, dropped = 0, pending = 0;
  std::uint64_t settled() const { return sent + failed + dropped; }
};

inline std::optional<ExporterMetrics> exporter_metrics(HttpDaemon& h, const std::string& exporter) {
  auto res = h.get("/metrics");
  if (!res || res->status != 200) return std::nullopt;
  const std::string label = "exporter=\"" + exporter + "\"";
  ExporterMetrics m;
  m.sent = metric_sum(res->body, "tracecol_exporter_sent_traces_total", label);
  m.failed = metric_sum(res->body, "tracecol_exporter_failed_traces_total", label);
  m.dropped = metric_sum(res->body, "tracecol_exporter_dropped_traces_total", label);
  m.pending = metric_sum(res->body, "tracecol_exporter_queue_depth", label);
  return m;
}

/** The HTTP exporter's own exit line ("export-http http:HOST:PORT: queued=..."), or "". */
inline std::string exporter_summary(const std::string& err) {
  const std::size_t at = err.find(": queued=");
  if (at == std::string::npos) return "";
  return err.substr(at, err.find('\n', at) - at);
}

/** One exporter's part of the daemon's exit summary line ("| name: sent=.. ..."), or "". */
inline std::string exit_section(const std::string& err, const std::string& exporter) {
  const std::string summary = summary_line(err);
  const std::size_t at = summary.find("| " + exporter + ":");
  if (at == std::string::npos) return "";
  return summary.substr(at, summary.find(" |", at + 2) - at) + " ";
}

inline std::string url(const HttpReceiver& r, const std::string& scheme = "http",
                       const std::string& host = "127.0.0.1") {
  return scheme + "://" + host + ":" + std::to_string(r.port()) + "/v1/traces";
}

/** The exporter label / summary name of an --export-http to r. */
inline std::string http_name(const HttpReceiver& r) { return "http:127.0.0.1:" + std::to_string(r.port()); }

/**
 * The usual exporter test setup: a receiver, and a daemon with its HTTP API, an NDJSON
 * file and --export-http (json format, so the receiver can read trace ids) to it.
 */
struct ExportRig {
  TempDir dir;
  HttpReceiver receiver;
  std::string file = dir.file("out.ndjson");
  std::optional<HttpDaemon> h;

  /** Starts the daemon; a flag in `extra` replaces the default here (options take one value). */
  void start(std::vector<std::string> extra) {
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"--trace-linger", "50ms"}, {"--export-file", file}, {"--export-http", url(receiver)},
        {"--export-http-format", "json"}, {"--export-http-max-delay", "20ms"}};
    std::vector<std::string> args;
    for (const auto& [flag, value] : defaults) {
      if (std::find(extra.begin(), extra.end(), flag) != extra.end()) continue;
      args.push_back(flag);
      args.push_back(value);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    h.emplace(dir, std::move(args));
  }
  Daemon& daemon() { return h->daemon; }
  const std::string& socket() { return h->daemon.socket_path(); }
  std::optional<ExporterMetrics> http_metrics() { return exporter_metrics(*h, http_name(receiver)); }

  /** Waits until the HTTP exporter holds nothing: every published trace settled (sent, failed, dropped). */
  bool wait_http_settled(std::uint64_t traces, std::chrono::milliseconds timeout = default_deadline) {
    return wait_until([&] {
      const auto m = http_metrics();
      return m && m->pending == 0 && m->settled() == traces;
    }, timeout, std::chrono::milliseconds(200));
  }

  /** The NDJSON file and the store hold every id, each once in the file, whatever the HTTP side did. */
  void check_file_and_store(const std::vector<std::string>& ids) {
    REQUIRE(wait_until([&] { return count_lines(file) >= ids.size(); }));
    std::size_t bad = 0;
    CHECK(exactly_once(file_traces({file}, &bad), ids));
    CHECK(bad == 0);
    CHECK(store_has_all(*h, ids));
  }
};

}  // namespace tracecol::integration::fixture
