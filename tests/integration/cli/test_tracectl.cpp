// tracectl send / ls / get / tree / bench against the real daemon, and every command's
// clear, prompt failure when no daemon is there.

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/integration/cli/tracectl_process.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"
#include "tests/support/loopback_port.hpp"

using namespace tracecol::integration;

namespace {

const double t0 = 1732500000.0;

std::string one_trace(const std::string& id, const std::string& run) {
  std::string lines;
  lines += span_line(SpanSpec(id, "1").run(run).named("agent.run").of_kind("AGENT").at(t0, t0 + 0.142));
  lines += span_line(SpanSpec(id, "2", "1").run(run).named("llm.complete").of_kind("LLM").at(t0 + 0.005, t0 + 0.135)
                         .with(R"("error":"rate limited","metadata":{"model":"m"})"));
  lines += trace_end_line(id);
  return lines;
}

std::string http_flag(const HttpDaemon& h) { return "--http=127.0.0.1:" + std::to_string(h.port); }

}  // namespace

TEST_SUITE("tracectl") {
TEST_CASE("send delivers stdin and reports the daemon's counts, ls, get and tree then show the trace") {
  TempDir dir;
  HttpDaemon h(dir, {"--export-console"});
  const std::string socket = "--socket=" + h.daemon.socket_path();
  std::string input = one_trace("3a7f1c2b", "run-42");
  input.pop_back();  // an unterminated last line must still arrive
  const auto sent = run_tracectl(dir, {socket, "send"}, input);
  INFO(sent.err);
  CHECK(sent.code == 0);
  CHECK(sent.out == "accepted 3, rejected 0\n");

  const std::string id = trace_hex("3a7f1c2b");
  const auto ls = run_tracectl(dir, {http_flag(h), "ls"});
  CHECK(ls.code == 0);
  CHECK(ls.out.starts_with("TRACE_ID "));
  CHECK(ls.out.find(id + "  2024-11-25 02:00:00.000  142ms     2      1       complete  run-42  agent.run\n") !=
        std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "--run-id", "other"}).out.find(id) == std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "--errors", "--kind", "llm"}).out.find(id) != std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "--no-errors"}).out.find(id) == std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "--min-duration-ms", "500"}).out.find(id) == std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "--meta", "model=m"}).out.find(id) != std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "--meta", "model=other"}).out.find(id) == std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "-q", "rate lim"}).out.find(id) != std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "-q", "nowhere"}).out.find(id) == std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "--since", "1d"}).out.find(id) == std::string::npos);  // 2024
  CHECK(run_tracectl(dir, {http_flag(h), "ls", "--until", "1d"}).out.find(id) != std::string::npos);
  const auto ls_json = run_tracectl(dir, {http_flag(h), "ls", "--json", "--limit", "1"});
  CHECK(ls_json.out == h.get("/api/traces?limit=1")->body + "\n");

  const auto raw = run_tracectl(dir, {http_flag(h), "get", id, "--raw"});
  CHECK(raw.code == 0);
  CHECK(raw.out == h.get("/api/traces/" + id)->body + "\n");
  const auto pretty = run_tracectl(dir, {http_flag(h), "get", "3a7f1c2b"});
  CHECK(pretty.code == 0);
  CHECK(pretty.out.starts_with("{\n  \"trace_id\": \"" + id + "\",\n"));
  CHECK(pretty.out.find("\"started_at\": 1732500000.000000,") != std::string::npos);
  CHECK(pretty.out.find("\"error\": \"rate limited\"") != std::string::npos);

  const auto tree = run_tracectl(dir, {http_flag(h), "tree", id});
  CHECK(tree.code == 0);
  CHECK(tree.out == "[Trace 3a7f1c2b] run_id=run-42\nagent.run [142ms]\n  llm.complete [130ms] ERROR: rate limited\n");
  // The same text the console exporter printed for this trace.
  REQUIRE(wait_until([&] { return h.daemon.out().find("llm.complete") != std::string::npos; }));
  CHECK(tree.out == h.daemon.out());
}

TEST_CASE("send exits 4 and names the last error when the daemon rejects a line") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {});
  REQUIRE(d.wait_ready());
  const std::string bad = R"({"type":"span","trace_id":"1","span_id":"1","started_at":1732500000,"kind":"ROBOT"})";
  const auto r = run_tracectl(dir, {"--socket", d.socket_path(), "send"}, one_trace("a1", "r") + bad + "\n\n");
  CHECK(r.code == 4);
  CHECK(r.out == "accepted 3, rejected 1 (last error: bad_kind)\n");
}

TEST_CASE("send takes the socket from TRACECOL_SOCKET") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {});
  REQUIRE(d.wait_ready());
  ::setenv("TRACECOL_SOCKET", d.socket_path().c_str(), 1);
  const auto r = run_tracectl(dir, {"send"}, one_trace("e1", "r"));
  ::unsetenv("TRACECOL_SOCKET");
  CHECK(r.code == 0);
  CHECK(r.out == "accepted 3, rejected 0\n");
}

TEST_CASE("ls, get and tree send the bearer token of --token-file or TRACECOL_HTTP_TOKEN_FILE") {
  TempDir dir;
  const std::string token_file = dir.file("token");
  {
    std::ofstream(token_file) << "s3cret-t0ken\n";
  }
  ::chmod(token_file.c_str(), 0600);
  HttpDaemon h(dir, {"--http-token-file", token_file});
  REQUIRE(run_tracectl(dir, {"--socket=" + h.daemon.socket_path(), "send"}, one_trace("70c3", "r")).code == 0);
  const std::string id = trace_hex("70c3");

  const auto refused = run_tracectl(dir, {http_flag(h), "ls"});
  CHECK(refused.code == 1);
  CHECK(refused.err.find("HTTP 401") != std::string::npos);
  CHECK(refused.err.find("s3cret") == std::string::npos);

  const auto ls = run_tracectl(dir, {http_flag(h), "--token-file", token_file, "ls"});
  INFO(ls.err);
  CHECK(ls.code == 0);
  CHECK(ls.out.find(id) != std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "--token-file", token_file, "tree", id}).code == 0);

  ::setenv("TRACECOL_HTTP_TOKEN_FILE", token_file.c_str(), 1);
  const auto get = run_tracectl(dir, {http_flag(h), "get", id, "--raw"});
  ::unsetenv("TRACECOL_HTTP_TOKEN_FILE");
  CHECK(get.code == 0);
  CHECK(get.out.find(id) != std::string::npos);

  const std::string wrong = dir.file("wrong");
  std::ofstream(wrong) << "not-the-token";
  const auto bad = run_tracectl(dir, {http_flag(h), "--token-file", wrong, "ls"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("HTTP 401") != std::string::npos);
  const auto missing = run_tracectl(dir, {http_flag(h), "--token-file", dir.file("absent"), "ls"});
  CHECK(missing.code != 0);
  CHECK(missing.err.find("--token-file") != std::string::npos);
}

TEST_CASE("get and tree exit 3 for a trace that is not there, 2 for a malformed id") {
  TempDir dir;
  HttpDaemon h(dir, {});
  const auto get = run_tracectl(dir, {http_flag(h), "get", "abcdef"});
  CHECK(get.code == 3);
  CHECK(get.out.empty());
  CHECK(get.err.find("HTTP 404: trace not found") != std::string::npos);
  CHECK(run_tracectl(dir, {http_flag(h), "tree", "abcdef"}).code == 3);
  // A usage error, caught before any request: the id is not 1-32 hex digits.
  const auto bad = run_tracectl(dir, {http_flag(h), "get", "not-hex"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("hex digits") != std::string::npos);
}

TEST_CASE("bench reports every event it sent as accepted by the daemon") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {});
  REQUIRE(d.wait_ready());
  const auto max = run_tracectl(dir, {"--socket", d.socket_path(), "bench", "-c", "2", "--spans-per-trace", "5",
                                      "--payload-bytes", "64", "--duration", "0.5"});
  INFO(max.out);
  INFO(max.err);
  CHECK(max.code == 0);
  CHECK(max.out.find("connection 0: sent ") != std::string::npos);
  CHECK(max.out.find("connection 1: sent ") != std::string::npos);
  CHECK(max.out.find(": ok\n") != std::string::npos);
  CHECK(max.out.find("rejected 0") != std::string::npos);
  const auto paced = run_tracectl(dir, {"--socket", d.socket_path(), "bench", "--rate", "2000", "--duration", "0.3"});
  INFO(paced.out);
  CHECK(paced.code == 0);
  CHECK(paced.out.find(": ok\n") != std::string::npos);
}

TEST_CASE("every command exits 1 with a clear message, promptly, when no daemon is running") {
  TempDir dir;
  const std::string no_socket = "--socket=" + dir.file("nobody.sock");
  const std::string no_unix_http = "--http=unix:" + dir.file("nobody-http.sock");
  const std::string no_tcp_http = "--http=127.0.0.1:" + std::to_string(tracecol::testing::unused_loopback_port());
  for (const auto& args : std::vector<std::vector<std::string>>{
           {no_socket, "send"},
           {no_socket, "bench", "--duration", "0.2"},
           {no_unix_http, "ls"},
           {no_tcp_http, "ls"},
           {no_tcp_http, "get", "abc"},
           {no_unix_http, "tree", "abc"},
           {no_tcp_http, "tail"},
           {no_unix_http, "tail", "--spans"}}) {
    CAPTURE(args.back());
    const auto r = run_tracectl(dir, args, "{}\n");
    CHECK(r.code == 1);
    CHECK(r.err.find("cannot connect") != std::string::npos);
  }
}

TEST_CASE("usage errors exit 2 and every subcommand has --help") {
  TempDir dir;
  CHECK(run_tracectl(dir, {}).code == 2);
  CHECK(run_tracectl(dir, {"ls", "--limit", "x"}).code == 2);
  CHECK(run_tracectl(dir, {"ls", "--meta", "novalue", "--http", "unix:/nonexistent"}).code == 2);
  for (const char* sub : {"send", "ls", "get", "tree", "tail", "bench"}) {
    CAPTURE(sub);
    const auto r = run_tracectl(dir, {sub, "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("Usage:") != std::string::npos);
  }
}
}
