// Trace assembly through the real daemon: completion rules, merging, late spans, limits, policy.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <ctime>
#include <memory>

#include "tests/integration/harness.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

/** A daemon exporting to out.ndjson plus one connected client. */
struct Rig {
  explicit Rig(std::vector<std::string> extra) {
    std::vector<std::string> args{"--export-file", dir.file("out.ndjson")};
    args.insert(args.end(), extra.begin(), extra.end());
    daemon = std::make_unique<Daemon>(dir, dir.file("s.sock"), args);
    REQUIRE(daemon->wait_ready());
    client = std::make_unique<SocketClient>(daemon->socket_path());
    REQUIRE(client->connected());
  }
  /** Sends `lines` and a flush; returns the reply (REQUIREd present). */
  Flushed send(const std::string& lines) {
    REQUIRE(client->write_all(lines));
    auto f = client->flush(++flush_id);
    REQUIRE(f);
    return *f;
  }
  /** Waits until the file holds `n` records, then returns it. */
  NdjsonFile records(std::size_t n) {
    const std::string out = dir.file("out.ndjson");
    CHECK(wait_until([&] { return count_lines(out) >= n; }));
    return read_ndjson(out);
  }
  std::string out() const { return dir.file("out.ndjson"); }

  TempDir dir;
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<SocketClient> client;
  std::int64_t flush_id = 0;
};

const rapidjson::Value* span_in(const rapidjson::Value& rec, const std::string& span_id) {
  for (const auto& s : rec["spans"].GetArray()) {
    if (str(s, "span_id") == span_id) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_SUITE("assembly") {
TEST_CASE("an ended root with no trace_end is exported complete after --trace-linger") {
  Rig r({"--trace-linger", "100ms"});
  r.send(span_line(SpanSpec("11", "2", "1")) + span_line(SpanSpec("11", "1")));
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  CHECK(flag(f.records[0], "complete"));
  CHECK(num(f.records[0], "span_count") == 2);
}

TEST_CASE("a trace with an open span is exported incomplete after --trace-idle-timeout") {
  Rig r({"--trace-idle-timeout", "300ms"});
  r.send(span_line(SpanSpec("12", "1").as("span_start").at(1732500000.0, -1)));
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  CHECK_FALSE(flag(f.records[0], "complete"));
  CHECK(str(f.records[0], "trace_id") == trace_hex("12"));
}

TEST_CASE("a span sent alone and again inside a trace event appears once") {
  Rig r({"--trace-linger", "10m"});
  const auto s1 = SpanSpec("13", "1").named("root");
  const auto s2 = SpanSpec("13", "2", "1").named("child");
  auto fl = r.send(span_line(s1) + trace_line("13", "run-1", {s1, s2}));
  CHECK(fl.accepted == 2);
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  CHECK(num(f.records[0], "span_count") == 2);
  CHECK(f.records[0]["spans"].Size() == 2);
}

TEST_CASE("span_start and span_end merge into one span") {
  Rig r({});
  r.send(span_line(SpanSpec("14", "1").as("span_start").named("agent.run").of_kind("AGENT").at(1732500000.0, -1)
                       .with(R"("inputs":{"q":"x"})")) +
         R"({"type":"span_end","trace_id":"14","span_id":"1","ended_at":1732500000.25,"outputs":{"a":2}})" "\n" +
         trace_end_line("14"));
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  const auto& rec = f.records[0];
  CHECK(flag(rec, "complete"));
  REQUIRE(rec["spans"].Size() == 1);
  const auto& s = rec["spans"][0];
  CHECK(str(s, "name") == "agent.run");
  CHECK(str(s, "kind") == "AGENT");
  CHECK(raw(s, "inputs") == R"({"q":"x"})");
  CHECK(raw(s, "outputs") == R"({"a":2})");
  CHECK(std::abs(num(s, "ended_at") - 1732500000.25) < 1e-5);
  CHECK(std::abs(num(s, "duration_ms") - 250) < 0.51);
}

TEST_CASE("a span_end earlier than the span's start is refused as bad_time and the span kept as it was") {
  Rig r({});
  const std::string start = R"({"type":"span_start","trace_id":"d4","span_id":"1","name":"root","started_at":1732600050})" "\n";
  const std::string end = R"({"type":"span_end","trace_id":"d4","span_id":"1","ended_at":1732600060})" "\n";
  const std::string early = R"({"type":"span_end","trace_id":"d4","span_id":"1","ended_at":1732600030})" "\n";
  auto fl = r.send(start + end + early + trace_end_line("d4"));
  CHECK(fl.accepted == 3);
  CHECK(fl.rejected == 1);
  CHECK(fl.last_error == "bad_time");
  // The two halves in either order: the second one is refused.
  fl = r.send(R"({"type":"span_end","trace_id":"d5","span_id":"1","ended_at":1732600000})" "\n"
              R"({"type":"span_start","trace_id":"d5","span_id":"1","name":"root","started_at":1732600050})" "\n"
              R"({"type":"span_start","trace_id":"d6","span_id":"1","name":"root","started_at":1732600050})" "\n"
              R"({"type":"span_end","trace_id":"d6","span_id":"1","ended_at":1732600000})" "\n" +
              trace_end_line("d5") + trace_end_line("d6"));
  CHECK(fl.accepted == 3 + 4);
  CHECK(fl.rejected == 1 + 2);
  auto f = r.records(3);
  REQUIRE(f.records.size() == 3);
  const auto& d4 = f.records[0]["spans"][0];
  CHECK(std::abs(num(d4, "started_at") - 1732600050) < 1e-6);
  CHECK(std::abs(num(d4, "ended_at") - 1732600060) < 1e-6);
  CHECK(num(d4, "duration_ms") == 10000);
  const auto& d5 = f.records[1]["spans"][0];  // the lone span_end as it stood
  CHECK(std::abs(num(d5, "ended_at") - 1732600000) < 1e-6);
  CHECK(str(d5, "name") != "root");
  const auto& d6 = f.records[2]["spans"][0];  // the span_start, still open
  CHECK(std::abs(num(d6, "started_at") - 1732600050) < 1e-6);
  CHECK(is_null(d6, "ended_at"));
  // Counted under the protocol's reason and logged (rate-limited) with it, never the line.
  REQUIRE(wait_until([&] { return r.daemon->err().find("refused after decoding (last: bad_time") != std::string::npos; }));
}

TEST_CASE("a span arriving after export comes out as a follow-up record holding only that span") {
  Rig r({});
  r.send(span_line(SpanSpec("15", "1")) + trace_end_line("15"));
  REQUIRE(r.records(1).records.size() == 1);
  r.send(span_line(SpanSpec("15", "2", "1").named("late.one")));
  auto f = r.records(2);
  REQUIRE(f.records.size() == 2);
  const auto& follow = f.records[1];
  CHECK(str(follow, "trace_id") == trace_hex("15"));
  CHECK(flag(follow, "follow_up"));
  REQUIRE(follow["spans"].Size() == 1);
  CHECK(str(follow["spans"][0], "span_id") == span_hex("2"));
  CHECK(flag(follow["spans"][0], "late"));
  CHECK_FALSE(f.records[0].HasMember("follow_up"));
}

TEST_CASE("spans sent again for a trace the store evicted come out as a follow-up flagged late") {
  Rig r({"--max-traces", "1", "--trace-linger", "50ms"});
  r.send(span_line(SpanSpec("e1", "1")) + span_line(SpanSpec("e1", "2", "1")) + trace_end_line("e1"));
  r.send(span_line(SpanSpec("e2", "1")) + trace_end_line("e2"));  // evicts e1
  REQUIRE(r.records(2).records.size() == 2);
  // The agent's export(trace) of e1 arrives late: the same spans again, one more child.
  r.send(span_line(SpanSpec("e1", "1")) + span_line(SpanSpec("e1", "2", "1")) +
         span_line(SpanSpec("e1", "3", "1").named("late.child")) + trace_end_line("e1"));
  auto f = r.records(3);
  REQUIRE(f.records.size() == 3);
  const auto& follow = f.records[2];
  CHECK(str(follow, "trace_id") == trace_hex("e1"));
  CHECK(flag(follow, "follow_up"));
  REQUIRE(follow["spans"].Size() == 3);
  for (const auto& s : follow["spans"].GetArray()) CHECK(flag(s, "late"));
  CHECK_FALSE(f.records[0].HasMember("follow_up"));
}

TEST_CASE("an orphan span is marked orphan at depth 0") {
  Rig r({});
  r.send(span_line(SpanSpec("16", "1")) + span_line(SpanSpec("16", "3", "99")) + trace_end_line("16"));
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  const auto* o = span_in(f.records[0], span_hex("3"));
  REQUIRE(o);
  CHECK(flag(*o, "orphan"));
  CHECK(num(*o, "depth") == 0);
  const auto* root = span_in(f.records[0], span_hex("1"));
  REQUIRE(root);
  CHECK_FALSE(flag(*root, "orphan"));
}

TEST_CASE("a parent cycle does not hang the daemon") {
  Rig r({});
  auto fl = r.send(span_line(SpanSpec("17", "1", "2")) + span_line(SpanSpec("17", "2", "1")) + trace_end_line("17"));
  CHECK(fl.accepted + fl.rejected == 3);
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  CHECK(f.records[0]["spans"].Size() == 2);
  auto again = r.send(span_line(SpanSpec("18", "1")));
  CHECK(again.accepted == fl.accepted + 1);
  CHECK(r.daemon->running());
}

TEST_CASE("--max-spans-per-trace 10 rejects the 11th span") {
  Rig r({"--max-spans-per-trace", "10"});
  std::string lines;
  for (int i = 1; i <= 11; ++i) lines += span_line(SpanSpec("19", std::to_string(i), i == 1 ? "" : "1"));
  auto fl = r.send(lines + trace_end_line("19"));
  CHECK(fl.accepted == 11);  // ten spans + trace_end
  CHECK(fl.rejected == 1);
  CHECK_FALSE(fl.last_error.empty());
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  CHECK(f.records[0]["spans"].Size() == 10);
}

TEST_CASE("--max-trace-bytes refuses the spans that would take one trace past it and the other traces go on") {
  // --max-store-bytes 4MiB: a trace may take 1MiB. 40 spans of 100 KB would take 4 MB.
  Rig r({"--max-store-bytes", "4MiB", "--trace-linger", "50ms"});
  const std::string pad(100'000, 'p');
  std::string lines = span_line(SpanSpec("31", "1"));
  for (int i = 1; i <= 40; ++i)
    lines += span_line(SpanSpec("30", std::to_string(i), i == 1 ? "" : "1").with(R"("inputs":{"p":")" + pad + R"("})"));
  lines += span_line(SpanSpec("32", "1"));
  auto fl = r.send(lines + trace_end_line("30") + trace_end_line("31") + trace_end_line("32"));
  CHECK(fl.rejected >= 29);
  CHECK(fl.rejected <= 31);
  CHECK(fl.accepted + fl.rejected == 45);
  CHECK(fl.last_error.find("trace_too_large") != std::string::npos);
  auto f = r.records(3);
  REQUIRE(f.records.size() == 3);
  std::size_t big_spans = 0, small_traces = 0;
  for (const auto& rec : f.records) {
    if (str(rec, "trace_id") == trace_hex("30")) big_spans = rec["spans"].Size();
    else ++small_traces;
  }
  CHECK(big_spans == 40 - fl.rejected);
  CHECK(small_traces == 2);  // neither was evicted to make room for the big one
  CHECK(r.daemon->running());
}

TEST_CASE("a span_end after its trace timed out reaches the file as an update in a follow-up record") {
  Rig r({"--trace-idle-timeout", "300ms"});
  r.send(span_line(SpanSpec("c1", "1").as("span_start").at(1732500000.0, -1)) +
         span_line(SpanSpec("c1", "2", "1").as("span_start").at(1732500000.5, -1)));
  auto timed_out = r.records(1);
  REQUIRE(timed_out.records.size() == 1);
  CHECK_FALSE(timed_out.records[0]["complete"].GetBool());
  // The tool call outlived the idle timeout; its end, output and error come now.
  auto fl = r.send(span_line(SpanSpec("c1", "2", "1").as("span_end").at(1732500000.5, 1732500400.0)
                                 .with(R"("error":"tool crashed","outputs":{"r":1})")));
  CHECK(fl.rejected == 0);
  auto f = r.records(2);
  REQUIRE(f.records.size() == 2);
  const auto& follow = f.records[1];
  CHECK(follow["follow_up"].GetBool());
  const rapidjson::Value* span = span_in(follow, "0000000000000002");
  REQUIRE(span != nullptr);
  CHECK(str(*span, "error") == "tool crashed");
  CHECK((*span)["late"].GetBool());
  CHECK((*span)["ended_at"].IsNumber());
  CHECK(num(follow, "error_count") == 1);
}

TEST_CASE("--sample-rate 0 exports only traces with an error") {
  Rig r({"--sample-rate", "0"});
  r.send(span_line(SpanSpec("20", "1")) + trace_end_line("20") +
         span_line(SpanSpec("21", "1").with(R"("error":"failed")")) + trace_end_line("21"));
  REQUIRE(wait_until([&] { return read_file(r.out()).find(trace_hex("21")) != std::string::npos; }));
  auto st = r.daemon->terminate();  // drains: anything still queued would now be written
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  auto f = read_ndjson(r.out());
  REQUIRE(f.records.size() == 1);
  CHECK(str(f.records[0], "trace_id") == trace_hex("21"));
  CHECK(num(f.records[0], "error_count") == 1);
}

TEST_CASE("--no-inputs makes inputs an empty object") {
  Rig r({"--no-inputs"});
  r.send(span_line(SpanSpec("22", "1").with(R"("inputs":{"q":1},"outputs":{"o":1})")) + trace_end_line("22"));
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  CHECK(raw(f.records[0]["spans"][0], "inputs") == "{}");
  CHECK(raw(f.records[0]["spans"][0], "outputs") == R"({"o":1})");
}

TEST_CASE("default redaction hides api_key and --redact-key adds a key") {
  Rig r({"--redact-key", "ssn"});
  r.send(span_line(SpanSpec("23", "1").with(R"("inputs":{"api_key":"x","user":{"ssn":"123","Password":"p"},"ok":1})")) +
         trace_end_line("23"));
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  const auto& in = f.records[0]["spans"][0]["inputs"];
  CHECK(str(in, "api_key") == "[REDACTED]");
  CHECK(num(in, "ok") == 1);
  REQUIRE(in.HasMember("user"));
  CHECK(str(in["user"], "ssn") == "[REDACTED]");
  CHECK(str(in["user"], "Password") == "[REDACTED]");
}

TEST_CASE("default redaction applies without --redact-key and ssn is left alone") {
  Rig r({});
  r.send(span_line(SpanSpec("24", "1").with(R"("inputs":{"api_key":"x","ssn":"123"})")) + trace_end_line("24"));
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  const auto& in = f.records[0]["spans"][0]["inputs"];
  CHECK(str(in, "api_key") == "[REDACTED]");
  CHECK(str(in, "ssn") == "123");
}

TEST_CASE("CLOCK_MONOTONIC times come out as current epoch seconds") {
  Rig r({});
  timespec mono{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  const double now_mono = static_cast<double>(mono.tv_sec) + static_cast<double>(mono.tv_nsec) * 1e-9;
  const double now_epoch = static_cast<double>(std::time(nullptr));
  REQUIRE(now_mono < 1e9);
  r.send(span_line(SpanSpec("25", "1").at(now_mono, now_mono + 0.05)) + trace_end_line("25"));
  auto f = r.records(1);
  REQUIRE(f.records.size() == 1);
  const auto& s = f.records[0]["spans"][0];
  INFO("started_at " << num(s, "started_at") << " epoch now " << now_epoch);
  CHECK(std::abs(num(s, "started_at") - now_epoch) < 5.0);
  CHECK(std::abs(num(s, "duration_ms") - 50) < 1.0);
}
}
