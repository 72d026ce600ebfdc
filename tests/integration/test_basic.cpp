// A span tree sent over the real socket comes out as one complete NDJSON record and a console tree.

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>

#include "tests/integration/harness.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

TEST_SUITE("basic") {
TEST_CASE("a span tree plus trace_end yields one NDJSON record with every field right and a console tree") {
  TempDir dir;
  const std::string out = dir.file("out.ndjson");
  Daemon d(dir, dir.file("s.sock"), {"--export-console", "--export-file", out});
  REQUIRE(d.wait_ready());

  SocketClient c(d.socket_path());
  REQUIRE(c.connected());
  const double t0 = 1732500000.0;
  // A full 32-hex id, as the seed's agents send (uuid4().hex): the console shows its first 8 digits.
  const std::string tid = "3a7f1c2b9d8e4f60a1b2c3d4e5f60718";
  std::string lines;
  lines += span_line(SpanSpec(tid, "1").run("run-42").named("agent.run").of_kind("AGENT").at(t0, t0 + 0.142)
                      .with(R"("inputs":{"q":"hi"},"outputs":{"a":1},"metadata":{"m":"v"})"));
  lines += span_line(SpanSpec(tid, "2", "1").run("run-42").named("llm.complete").of_kind("llm")
                      .at(t0 + 0.005, t0 + 0.135));
  lines += span_line(SpanSpec(tid, "3", "2").run("run-42").named("tool.fetch").of_kind("TOOL")
                      .at(t0 + 0.010, t0 + 0.022).with(R"("error":"boom")"));
  lines += trace_end_line(tid);
  REQUIRE(c.write_all(lines));
  auto f = c.flush(7);
  REQUIRE(f);
  CHECK(f->id == 7);
  CHECK(f->accepted == 4);
  CHECK(f->rejected == 0);
  CHECK(f->last_error.empty());

  REQUIRE(wait_until([&] { return count_lines(out) >= 1; }));
  auto file = read_ndjson(out);
  CHECK(file.bad_lines == 0);
  CHECK_FALSE(file.torn_tail);
  REQUIRE(file.records.size() == 1);
  const auto& r = file.records[0];
  CHECK(str(r, "trace_id") == tid);
  CHECK(str(r, "run_id") == "run-42");
  CHECK(flag(r, "complete"));
  CHECK_FALSE(r.HasMember("follow_up"));
  CHECK(std::abs(num(r, "started_at") - t0) < 1e-5);
  CHECK(std::abs(num(r, "ended_at") - (t0 + 0.142)) < 1e-5);
  CHECK(std::abs(num(r, "duration_ms") - 142) < 0.51);
  CHECK(num(r, "span_count") == 3);
  CHECK(num(r, "error_count") == 1);
  REQUIRE(r.HasMember("spans"));
  REQUIRE(r["spans"].IsArray());
  REQUIRE(r["spans"].Size() == 3);
  const auto& s0 = r["spans"][0];
  const auto& s1 = r["spans"][1];
  const auto& s2 = r["spans"][2];
  // Tree order: root, its child, the grandchild.
  CHECK(str(s0, "span_id") == "0000000000000001");
  CHECK(is_null(s0, "parent_id"));
  CHECK(str(s0, "trace_id") == tid);
  CHECK(str(s0, "run_id") == "run-42");
  CHECK(str(s0, "name") == "agent.run");
  CHECK(str(s0, "kind") == "AGENT");
  CHECK(num(s0, "depth") == 0);
  CHECK(std::abs(num(s0, "duration_ms") - 142) < 0.51);
  CHECK(raw(s0, "inputs") == R"({"q":"hi"})");
  CHECK(raw(s0, "outputs") == R"({"a":1})");
  // The agent's metadata, then the daemon's peer keys (docs/security.md).
  CHECK(raw(s0, "metadata") == R"({"m":"v","peer.pid":)" + std::to_string(::getpid()) + R"(,"peer.uid":)" +
                                   std::to_string(::getuid()) + "}");
  CHECK(is_null(s0, "error"));
  CHECK_FALSE(s0.HasMember("orphan"));
  CHECK_FALSE(s0.HasMember("late"));

  CHECK(str(s1, "span_id") == "0000000000000002");
  CHECK(str(s1, "parent_id") == "0000000000000001");
  CHECK(str(s1, "kind") == "LLM");
  CHECK(num(s1, "depth") == 1);
  CHECK(std::abs(num(s1, "duration_ms") - 130) < 0.51);
  CHECK(std::abs(num(s1, "started_at") - (t0 + 0.005)) < 1e-5);
  CHECK(raw(s1, "inputs") == "{}");
  CHECK(is_null(s1, "outputs"));

  CHECK(str(s2, "span_id") == "0000000000000003");
  CHECK(str(s2, "parent_id") == "0000000000000002");
  CHECK(str(s2, "kind") == "TOOL");
  CHECK(num(s2, "depth") == 2);
  CHECK(std::abs(num(s2, "duration_ms") - 12) < 0.51);
  CHECK(str(s2, "error") == "boom");

  c.close();
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(exit_code(*st) == 0);
  const std::string console = d.out();
  INFO("stdout:\n" << console);
  CHECK(console.find("[Trace 3a7f1c2b] run_id=run-42\n") != std::string::npos);
  CHECK(console.find("\nagent.run [142ms]") != std::string::npos);
  CHECK(console.find("\n  llm.complete [130ms]") != std::string::npos);
  CHECK(console.find("\n    tool.fetch [12ms]") != std::string::npos);
  CHECK(d.err().find("exit summary:") != std::string::npos);
}
}
