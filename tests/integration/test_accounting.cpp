// Exact accounting (issue #6) on the real daemon: a mixed workload — good traces, bad
// lines of several reasons, a partial line, blank and control lines, merged and late
// spans, traces left open, sampling, count evictions, a fan-out queue that overflows and
// an HTTP exporter whose target is down — then, at a quiet moment, /metrics must satisfy
// every identity of docs/metrics.md exactly; after SIGTERM the exit summary must too.

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/test_accounting.hpp"
#include "tests/integration/wire.hpp"
#include "tests/support/loopback_port.hpp"

using namespace tracecol::integration;
namespace ledger = tracecol::integration::accounting;

namespace {

/** A complete trace: a root and `children` children, ended, then trace_end. */
std::string complete_trace(const std::string& t, int children, bool error = false) {
  std::string out;
  for (int c = 1; c <= children; ++c) out += span_line(SpanSpec(t, hex(static_cast<unsigned>(c + 1), 4), "1"));
  SpanSpec root(t, "1");
  if (error) root.with(R"("error":"boom")");
  out += span_line(root);
  return out + trace_end_line(t);
}

struct Counts {
  int control = 0;
  int blank = 0;
};

/** Good and bad lines of every kind on one connection, in one write, then a flush. */
std::string mixed_lines(Counts& n) {
  std::string s = R"({"type":"hello","version":1,"client":"test","service":"acct"})" "\n";
  ++n.control;
  for (int i = 0; i < 40; ++i) s += complete_trace(hex(0x100 + static_cast<unsigned>(i), 8), 2, i % 7 == 0);
  // Merges: span_start then span_end of the same span, a span_end before its start
  // (refused: bad_time, the span kept), then the trace's end.
  for (int i = 0; i < 5; ++i) {
    const std::string t = hex(0x200 + static_cast<unsigned>(i), 8);
    s += span_line(SpanSpec(t, "1").as("span_start").at(1732500000.0, -1));
    s += span_line(SpanSpec(t, "1").as("span_end").at(-1, 1732500000.5));
    s += span_line(SpanSpec(t, "1").as("span_end").at(-1, 1732499999.0));  // ends before the start: bad_time
    s += trace_end_line(t);
  }
  s += trace_line(hex(0x300, 8), "run-t", {SpanSpec(hex(0x300, 8), "1"), SpanSpec(hex(0x300, 8), "2", "1")});
  // Over --max-spans-per-trace 5: three span lines refused (too_many_spans).
  for (int c = 1; c <= 8; ++c) s += span_line(SpanSpec(hex(0x400, 8), hex(static_cast<unsigned>(c + 1), 4), "1"));
  s += span_line(SpanSpec(hex(0x400, 8), "1"));  // a known trace full: refused too
  s += trace_end_line(hex(0x400, 8));
  s += "\n\n";  // two blank lines (a line of spaces is not blank: it is invalid_json)
  n.blank += 2;
  s += "{not json\n";                                                        // invalid_json
  s += R"({"type":"nope","trace_id":"1"})" "\n";                             // unknown_type
  s += R"({"type":"span","trace_id":"xyz","span_id":"1","name":"a","kind":"TOOL","started_at":1.0})" "\n";  // bad_trace_id
  s += R"({"type":"span","trace_id":"a1","name":"a","kind":"TOOL","started_at":1.0})" "\n";  // missing_span_id
  s += "[1,2]\n";                                                            // not_an_object
  s += R"({"type":"span","trace_id":"a1","span_id":"1","name":")" + std::string(5000, 'x') + "\"}\n";  // line_too_long
  // Open traces: a started span with no end keeps each open (idle timeout 10 min).
  for (int i = 0; i < 4; ++i)
    s += span_line(SpanSpec(hex(0x500 + static_cast<unsigned>(i), 8), "1").as("span_start").at(1732500000.0, -1));
  return s;
}

double metric(int port, const std::string& name, const tracecol::test::prometheus::Labels& labels = {}) {
  HttpClient c(port);
  auto r = c.request("GET", "/metrics");
  if (!r) return -1;
  return tracecol::test::prometheus::parse(r->body).value(name, labels).value_or(-1);
}

}  // namespace

TEST_SUITE("accounting") {
TEST_CASE("every line and span is accounted for exactly on /metrics and in the exit summary") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  const int dead = tracecol::testing::unused_loopback_port();
  REQUIRE(dead > 0);
  HttpDaemon h(dir, {"--export-file", out, "--export-http", "http://127.0.0.1:" + std::to_string(dead) + "/v1/traces",
                     "--export-http-timeout", "200ms", "--export-http-max-elapsed", "300ms",
                     "--export-http-max-delay", "10ms", "--export-http-queue-traces", "10",
                     "--export-queue", "8", "--sample-rate", "0.5", "--max-traces", "40",
                     "--max-spans-per-trace", "5", "--max-line-bytes", "4KiB", "--trace-linger", "50ms",
                     "--trace-idle-timeout", "10m"});
  REQUIRE(h.daemon.wait_ready());
  Counts n;
  {
    SocketClient c(h.daemon.socket_path());
    REQUIRE(c.connected());
    REQUIRE(c.write_all(mixed_lines(n)));
    auto f = c.flush(1);
    ++n.control;
    REQUIRE(f);
    CHECK(f->rejected == 15);  // 4 too_many_spans + 5 bad_time merges + 6 decode/framing reasons
  }
  {  // A partial line at EOF.
    SocketClient c(h.daemon.socket_path());
    REQUIRE(c.write_all(span_line(SpanSpec(hex(0x600, 8), "1")) + R"({"type":"span","trace_id":")"));
    c.shutdown_write();
    REQUIRE(c.wait_eof());
  }
  // Late spans and late copies, once the first traces were exported by the linger.
  REQUIRE(wait_until([&] { return metric(h.port, "tracecol_traces_completed_total") >= 40; }));
  {
    SocketClient c(h.daemon.socket_path());
    std::string late;
    for (unsigned i = 30; i < 40; ++i) {
      const std::string t = hex(0x100 + i, 8);
      late += span_line(SpanSpec(t, "99", "1"));  // new: a follow-up record
      late += span_line(SpanSpec(t, "1"));        // a copy: merged, not exported again
    }
    REQUIRE(c.write_all(late));
    REQUIRE(c.flush(2));
    ++n.control;
  }
  {  // POST /api/spans: a good line, a bad one, a flush (control) and a blank.
    HttpClient c(h.port);
    const std::string body = span_line(SpanSpec(hex(0x700, 8), "1")) + "{bad\n" + R"({"type":"flush","id":9})" "\n\n";
    auto r = c.request("POST", "/api/spans", body, "Content-Type: application/x-ndjson\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    ++n.control;
    ++n.blank;  // counted like the socket's
  }
  // Quiet: the HTTP exporter gave up on everything, nothing moves between two scrapes.
  auto quiet = ledger::quiet_scrape(h.port);
  REQUIRE(quiet);
  const ledger::Accounts& a = *quiet;
  ledger::check_identities(a);
  INFO(ledger::describe(a));
  // Every kind of event in the workload happened, so the identities covered it.
  CHECK(a.partial == 1);
  CHECK(a.control == static_cast<std::uint64_t>(n.control));
  CHECK(a.blank == static_cast<std::uint64_t>(n.blank));
  CHECK(a.rejected == 16);
  CHECK(metric(h.port, "tracecol_lines_rejected_total", {{"reason", "bad_time"}}) == 5);
  CHECK(a.spans_open == 4);
  CHECK(a.spans_sampled_out > 0);
  CHECK(a.spans_evicted > 0);
  CHECK(metric(h.port, "tracecol_spans_late_total") == 10);
  CHECK(metric(h.port, "tracecol_spans_merged_total") >= 15);
  const auto& http = a.exporters.at("http:127.0.0.1:" + std::to_string(dead));
  CHECK(http.sent == 0);
  CHECK(http.dropped == http.published);
  CHECK(metric(h.port, "tracecol_exporter_dropped_spans_total",
               {{"exporter", "ndjson"}, {"reason", "queue_full"}}) > 0);
  CHECK(metric(h.port, "tracecol_exporter_dropped_spans_total",
               {{"exporter", "http:127.0.0.1:" + std::to_string(dead)}, {"reason", "in_exporter"}}) > 0);
  // What the file exporter says it sent is what the file holds.
  const auto& ndjson = a.exporters.at("ndjson");
  REQUIRE(wait_until([&] {
    std::uint64_t spans = 0;
    for (const auto& r : read_ndjson(out).records) spans += r["spans"].Size();
    return spans == ndjson.sent;
  }));

  // SIGTERM: open traces are exported, queues drained or counted; the summary balances.
  auto st = h.daemon.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  const std::string line = summary_line(h.daemon.err());
  INFO(line);
  REQUIRE(!line.empty());
  const ledger::Accounts s = ledger::from_summary(line);
  ledger::check_identities(s);
  CHECK(s.spans_open == 0);
  CHECK(s.lines == a.lines);
  CHECK(s.accepted == a.accepted);
  CHECK(s.rejected == a.rejected);
  CHECK(s.spans_accepted == a.spans_accepted);
  for (const auto& [name, e] : s.exporters) {
    INFO("exporter " << name);
    CHECK(e.pending == 0);
  }
  std::uint64_t file_spans = 0;
  for (const auto& r : read_ndjson(out).records) file_spans += r["spans"].Size();
  CHECK(file_spans == s.exporters.at("ndjson").sent);
}
}
