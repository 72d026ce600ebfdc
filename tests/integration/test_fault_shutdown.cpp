// SIGTERM under pressure (issue #6): 1,000 open traces, 50k stored spans and an HTTP
// receiver reading at a crawl. The daemon exits 0 within 20 s (inside Kubernetes' 30 s
// grace); every accepted span is in the NDJSON file (open traces flushed as incomplete);
// what the slow exporter could not send is in the exit summary, exactly.

#include <doctest/doctest.h>

#include <signal.h>

#include "tests/integration/export_fixture.hpp"

using namespace tracecol::integration;
using namespace tracecol::integration::fixture;

TEST_SUITE("fault: shutdown") {
TEST_CASE("SIGTERM with 1,000 open traces, 50k stored spans and a slow exporter: exits 0 within 20 s, nothing lost silently") {
  ExportRig rig;
  rig.receiver.read_rate(512);  // a crawl: no request completes before the drain budget ends
  rig.start({"--trace-linger", "10m", "--trace-idle-timeout", "10m", "--max-traces", "5000"});

  constexpr int completed = 400;
  constexpr int completed_spans = 100;
  constexpr int open = 1000;
  constexpr int open_spans = 10;
  constexpr std::uint64_t total_spans = completed * completed_spans + open * open_spans;
  static_assert(total_spans == 50'000);
  std::string lines;
  for (int t = 0; t < completed + open; ++t) {
    const std::string tid = hex(0x50000 + static_cast<unsigned>(t), 32);
    const bool is_open = t >= completed;
    const int n = is_open ? open_spans : completed_spans;
    for (int i = 0; i < n; ++i) {
      SpanSpec s(tid, hex(static_cast<unsigned>(i + 1), 16), i == 0 ? std::string() : hex(1, 16));
      // An open trace keeps its root running: nothing but shutdown completes it.
      if (is_open && i == 0) s.as("span_start").at(1732500000.0, -1);
      lines += span_line(s);
    }
    if (!is_open) lines += trace_end_line(tid);
  }
  {
    SocketClient c(rig.socket());
    REQUIRE(c.connected());
    REQUIRE(c.write_all(lines));
    auto f = c.flush(1);
    REQUIRE(f);
    CHECK(f->accepted == static_cast<std::int64_t>(total_spans) + completed);
    CHECK(f->rejected == 0);
  }
  // All of it stored; the completed traces are already with the exporters.
  std::uint64_t stored_spans = 0;
  REQUIRE(wait_until([&] {
    const auto stored = stored_traces(*rig.h);
    stored_spans = 0;
    for (const auto& [id, n] : stored) stored_spans += n;
    return stored.size() == completed + open && stored_spans == total_spans;
  }));
  REQUIRE(wait_until([&] { return count_lines(rig.file) == completed; }));

  const auto sent_at = std::chrono::steady_clock::now();
  auto st = rig.daemon().terminate(SIGTERM, 40s);
  const auto took = std::chrono::steady_clock::now() - sent_at;
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  MESSAGE("exit after SIGTERM: " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 20s);

  // Every accepted span is in the file, once; the open traces as incomplete.
  const NdjsonFile file = read_ndjson(rig.file);
  CHECK(file.bad_lines == 0);
  CHECK_FALSE(file.torn_tail);
  std::map<std::string, int> spans;
  int incomplete = 0;
  for (const auto& rec : file.records) {
    incomplete += !flag(rec, "complete");
    for (const auto& s : rec["spans"].GetArray()) ++spans[str(rec, "trace_id") + "/" + str(s, "span_id")];
  }
  CHECK(file.records.size() == completed + open);
  CHECK(incomplete == open);
  CHECK(spans.size() == total_spans);
  std::size_t twice = 0;
  for (const auto& [key, n] : spans) twice += n != 1;
  CHECK(twice == 0);

  // The exit summary accounts for every trace the HTTP exporter was handed.
  const std::string err = rig.daemon().err();
  const std::string http = exit_section(err, http_name(rig.receiver));
  const std::string ndjson = exit_section(err, "ndjson");
  INFO("http: " << http << "\nndjson: " << ndjson);
  REQUIRE(!http.empty());
  CHECK(field(ndjson, "sent") == completed + open);
  CHECK(field(ndjson, "spans_sent") == total_spans);
  CHECK(field(ndjson, "dropped") == 0);
  CHECK(field(http, "pending") == 0);
  CHECK(field(http, "sent") == rig.receiver.ok_count());
  CHECK(*field(http, "sent") + *field(http, "failed") + *field(http, "dropped") == completed + open);
  CHECK(*field(http, "spans_sent") + *field(http, "spans_dropped") == total_spans);
  CHECK(*field(http, "dropped") > 0);
  const std::string own = exporter_summary(err);
  CHECK(field(own, "dropped_shutdown") == field(http, "dropped"));
}

TEST_CASE("through the drain /healthz answers 200, /readyz 503 and /metrics shows the drain, until exit") {
  ExportRig rig;
  rig.receiver.read_rate(512);  // a crawl: the drain lasts its whole budget
  rig.start({});
  send_traces(rig.socket(), 0, 20);
  REQUIRE(wait_until([&] { return count_lines(rig.file) == 20; }));
  auto ok = rig.h->get("/readyz");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  rig.daemon().signal(SIGTERM);
  // Probes keep being answered while the exporter drains (before: connection refused).
  REQUIRE(wait_until([&] {
    auto ready = rig.h->get("/readyz");
    return ready && ready->status == 503;
  }));
  int rounds = 0;
  for (; rounds < 5 && rig.daemon().running(); ++rounds) {
    auto health = rig.h->get("/healthz");
    auto ready = rig.h->get("/readyz");
    auto metrics = rig.h->get("/metrics");
    auto traces = rig.h->get("/api/traces");
    if (!rig.daemon().running()) break;  // exited between two probes
    REQUIRE(health);
    CHECK(health->status == 200);
    REQUIRE(ready);
    CHECK(ready->status == 503);
    REQUIRE(metrics);
    CHECK(metrics->status == 200);
    CHECK(metrics->body.find("tracecol_exporter_pending_spans") != std::string::npos);
    REQUIRE(traces);
    CHECK(traces->status == 503);
  }
  CHECK(rounds == 5);  // the drain (up to 15 s) outlasts five rounds of probes
  // A second SIGTERM (an impatient operator) is answered in the log, and the drain goes on.
  rig.daemon().signal(SIGTERM);
  CHECK(wait_until([&] { return rig.daemon().err().find("received SIGTERM again: already stopping") != std::string::npos; }));
  auto st = rig.daemon().wait_exit(40s);
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  // The receiver never took the batch: the loss is a warning of its own, not only a count.
  CHECK(rig.daemon().err().find("trace(s) (40 span(s)) never delivered") != std::string::npos);
}
}
