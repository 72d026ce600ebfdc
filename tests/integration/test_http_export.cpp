// --export-http on the real daemon against a real local receiver (tests/integration/
// http_receiver.*): retry after 503 + Retry-After, an outage, a 400, a receiver that
// never answers, an OTLP round trip into a second daemon, and https with a private CA.

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/http_receiver.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

/** n complete traces (a root and a child each), ids base+1 .. base+n; their 32-hex ids. */
std::vector<std::string> send_traces(const std::string& socket, int base, int n) {
  SocketClient c(socket);
  REQUIRE(c.connected());
  std::string lines;
  std::vector<std::string> ids;
  for (int i = base + 1; i <= base + n; ++i) {
    const std::string t = hex(static_cast<unsigned long long>(i), 8);
    lines += span_line(SpanSpec(t, "a" + t.substr(4)).named("child").of_kind("TOOL"));
    lines += span_line(SpanSpec(t, "b" + t.substr(4)).named("root").of_kind("AGENT"));
    lines += trace_end_line(t);
    ids.push_back(trace_hex(t));
  }
  REQUIRE(c.write_all(lines));
  auto f = c.flush(1);
  REQUIRE(f);
  CHECK(f->rejected == 0);
  return ids;
}

/** How many times each trace id arrived in the NDJSON bodies of requests answered 200. */
std::map<std::string, int> arrivals(const HttpReceiver& r, const std::set<std::size_t>& refused) {
  std::map<std::string, int> seen;
  const auto reqs = r.requests();
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    if (refused.count(i)) continue;
    const NdjsonFile f = parse_ndjson(reqs[i].body);
    for (const auto& rec : f.records) ++seen[str(rec, "trace_id")];
  }
  return seen;
}

bool exactly_once(const std::map<std::string, int>& seen, const std::vector<std::string>& ids) {
  if (seen.size() != ids.size()) return false;
  for (const auto& id : ids)
    if (auto it = seen.find(id); it == seen.end() || it->second != 1) return false;
  return true;
}

/** The exporter's exit line ("export-http http:HOST:PORT: queued=..."), or "". */
std::string exporter_summary(const std::string& err) {
  const std::size_t at = err.find(": queued=");
  if (at == std::string::npos) return "";
  return err.substr(at, err.find('\n', at) - at);
}

std::string url(const HttpReceiver& r, const std::string& scheme = "http", const std::string& host = "127.0.0.1") {
  return scheme + "://" + host + ":" + std::to_string(r.port()) + "/v1/traces";
}

}  // namespace

TEST_SUITE("http export") {
TEST_CASE("503 with Retry-After on the first requests, then 200: every trace arrives exactly once") {
  TempDir dir;
  HttpReceiver r;
  r.script([](std::size_t i, const ReceivedRequest&) {
    Reply reply;
    if (i < 2) reply = Reply{503, {{"Retry-After", "1"}}, "try later", false};
    return reply;
  });
  Daemon d(dir, dir.file("s.sock"),
           {"--trace-linger", "50ms", "--export-http", url(r), "--export-http-format", "json",
            "--export-http-max-delay", "20ms", "--export-http-max-batch-traces", "8",
            "--export-http-header", "Authorization: Bearer topsecret-42"});
  REQUIRE(d.wait_ready());
  const auto ids = send_traces(d.socket_path(), 0, 20);
  REQUIRE(wait_until([&] { return arrivals(r, {0, 1}).size() == ids.size(); }));
  CHECK(exactly_once(arrivals(r, {0, 1}), ids));
  const auto reqs = r.requests();
  REQUIRE(!reqs.empty());
  CHECK(reqs[0].headers.at("authorization") == "Bearer topsecret-42");
  CHECK(reqs[0].headers.at("content-type") == "application/x-ndjson");
  REQUIRE(d.terminate());
  const std::string summary = exporter_summary(d.err());
  CHECK(summary.find(" sent=20 ") != std::string::npos);
  CHECK(summary.find(" retried=0 ") == std::string::npos);  // the 503s were retried
  CHECK(d.err().find("topsecret") == std::string::npos);  // headers are never logged
}

TEST_CASE("receiver down for 10 s, then up: nothing is lost") {
  TempDir dir;
  HttpReceiver r;
  r.stop_listening();
  Daemon d(dir, dir.file("s.sock"),
           {"--trace-linger", "50ms", "--export-http", url(r), "--export-http-format", "json",
            "--export-http-max-delay", "20ms", "--log-level", "debug"});
  REQUIRE(d.wait_ready());
  const auto ids = send_traces(d.socket_path(), 100, 10);
  // The daemon keeps retrying: wait for its retries to show, then keep the receiver down
  // until 10 s have passed (the scenario itself is a 10 s outage).
  const auto up_at = std::chrono::steady_clock::now() + 10s;
  REQUIRE(wait_until([&] { return d.err().find("Connection refused; retry 2") != std::string::npos; }));
  REQUIRE(wait_until([&] { return std::chrono::steady_clock::now() >= up_at; }, 20s, 200ms));
  CHECK(r.request_count() == 0);
  REQUIRE(r.start_listening());
  REQUIRE(wait_until([&] { return arrivals(r, {}).size() == ids.size(); }));
  CHECK(exactly_once(arrivals(r, {}), ids));
  REQUIRE(d.terminate());
  const std::string summary = exporter_summary(d.err());
  CHECK(summary.find(" sent=10 ") != std::string::npos);
  CHECK(summary.find(" gave_up=0 ") != std::string::npos);
}

TEST_CASE("400: the batch is dropped and counted as failed, never retried") {
  TempDir dir;
  HttpReceiver r;
  r.script([](std::size_t, const ReceivedRequest&) { return Reply{400, {}, R"({"error":"schema"})", false}; });
  Daemon d(dir, dir.file("s.sock"),
           {"--trace-linger", "50ms", "--export-http", url(r), "--export-http-max-delay", "20ms",
            "--export-http-max-batch-traces", "1"});
  REQUIRE(d.wait_ready());
  send_traces(d.socket_path(), 200, 3);
  REQUIRE(wait_until([&] { return r.request_count() == 3; }));
  REQUIRE(d.terminate());
  CHECK(r.request_count() == 3);
  const std::string summary = exporter_summary(d.err());
  CHECK(summary.find(" failed=3 ") != std::string::npos);
  CHECK(summary.find(" retried=0 ") != std::string::npos);
  CHECK(summary.find(" requests=3 ") != std::string::npos);
  CHECK(d.err().find("HTTP 400") != std::string::npos);
}

TEST_CASE("a receiver that never answers: the timeout fires and the daemon stays healthy") {
  TempDir dir;
  HttpReceiver r;
  r.script([](std::size_t, const ReceivedRequest&) {
    Reply reply;
    reply.never_answer = true;
    return reply;
  });
  const std::string file = dir.file("out.ndjson");
  HttpDaemon h(dir, {"--trace-linger", "50ms", "--export-file", file, "--export-http", url(r),
                     "--export-http-timeout", "200ms", "--export-http-max-elapsed", "1s",
                     "--export-http-max-delay", "20ms"});
  send_traces(h.daemon.socket_path(), 300, 5);
  REQUIRE(wait_until([&] { return r.request_count() >= 1; }));
  // Ingest and the file exporter carry on while the HTTP exporter waits.
  send_traces(h.daemon.socket_path(), 400, 5);
  REQUIRE(wait_until([&] { return count_lines(file) == 10; }));
  auto health = h.get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  // Each attempt ends by the request timeout; after the max elapsed time the batch is given up.
  REQUIRE(wait_until([&] { return h.daemon.err().find("gave up after") != std::string::npos; }));
  CHECK(h.daemon.err().find("timeout") != std::string::npos);
  health = h.get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto status = h.daemon.terminate();
  REQUIRE(status);
  CHECK(exit_code(*status) == 0);
  CHECK(exporter_summary(h.daemon.err()).find(" sent=0 ") != std::string::npos);
}

TEST_CASE("OTLP round trip: daemon A exports to daemon B's /v1/traces and B's record equals A's") {
  TempDir dir_b;
  HttpDaemon b(dir_b, {"--trace-linger", "50ms"});
  TempDir dir_a;
  HttpDaemon a(dir_a, {"--trace-linger", "50ms", "--export-http",
                       "http://127.0.0.1:" + std::to_string(b.port) + "/v1/traces", "--export-http-max-delay", "20ms"});
  const std::string t = "7f3a";
  {
    SocketClient c(a.daemon.socket_path());
    REQUIRE(c.connected());
    std::string lines;
    lines += span_line(SpanSpec(t, "11", "10").named("llm call").of_kind("LLM").run("run-rt").at(1732500000.25, 1732500000.75)
                           .with(R"("inputs":{"prompt":"2+2?","n":2},"outputs":{"text":"4"},"metadata":{"model":"gpt-x","tokens":12,"ok":true})"));
    lines += span_line(SpanSpec(t, "12", "10").named("search").of_kind("TOOL").run("run-rt").at(1732500000.8, 1732500000.9)
                           .with(R"("inputs":{"q":"x"},"outputs":null,"error":"tool exploded")"));
    lines += span_line(SpanSpec(t, "10").named("agent").of_kind("AGENT").run("run-rt").at(1732500000.0, 1732500001.0)
                           .with(R"("metadata":{"team":"a"})"));
    lines += trace_end_line(t);
    REQUIRE(c.write_all(lines));
    auto f = c.flush(1);
    REQUIRE(f);
    CHECK(f->rejected == 0);
  }
  const std::string id = trace_hex(t);
  std::optional<HttpResponse> from_a, from_b;
  REQUIRE(wait_until([&] { from_a = a.get("/api/traces/" + id); return from_a && from_a->status == 200; }));
  REQUIRE(wait_until([&] { from_b = b.get("/api/traces/" + id); return from_b && from_b->status == 200; }));
  rapidjson::Document da, db;
  da.Parse(from_a->body.c_str());
  db.Parse(from_b->body.c_str());
  REQUIRE(!da.HasParseError());
  REQUIRE(!db.HasParseError());
  CHECK(str(da, "trace_id") == str(db, "trace_id"));
  CHECK(str(da, "run_id") == str(db, "run_id"));
  const auto& sa = da["spans"];
  const auto& sb = db["spans"];
  REQUIRE(sa.Size() == 3);
  REQUIRE(sb.Size() == sa.Size());
  for (rapidjson::SizeType i = 0; i < sa.Size(); ++i) {
    INFO("span " << str(sa[i], "name"));
    for (const char* key : {"trace_id", "span_id", "parent_id", "run_id", "name", "kind", "started_at", "ended_at",
                            "inputs", "outputs", "error"})
      CHECK_MESSAGE(raw(sa[i], key) == raw(sb[i], key), key, ": ", raw(sa[i], key), " vs ", raw(sb[i], key));
    // B's OTLP ingest keeps resource attributes as metadata: A's metadata plus service.name.
    const auto& ma = sa[i]["metadata"];
    const auto& mb = sb[i]["metadata"];
    REQUIRE(ma.IsObject());
    REQUIRE(mb.IsObject());
    CHECK(mb.MemberCount() == ma.MemberCount() + 1);
    CHECK(str(mb, "service.name") == "tracecol");
    for (const auto& m : ma.GetObject()) CHECK(raw(ma, m.name.GetString()) == raw(mb, m.name.GetString()));
  }
}

TEST_CASE("https: verified against --export-http-ca-file, refused without it") {
  TempDir dir;
  const std::string cert = dir.file("cert.pem");
  const std::string key = dir.file("key.pem");
  REQUIRE(make_self_signed_cert(cert, key));
  HttpReceiver r(TlsFiles{cert, key});
  {
    Daemon untrusted(dir, dir.file("u.sock"),
                     {"--trace-linger", "50ms", "--export-http", url(r, "https", "localhost"),
                      "--export-http-max-delay", "20ms", "--export-http-max-elapsed", "1s"});
    REQUIRE(untrusted.wait_ready());
    send_traces(untrusted.socket_path(), 500, 1);
    REQUIRE(wait_until([&] { return untrusted.err().find("TLS handshake") != std::string::npos; }));
    CHECK(r.request_count() == 0);
  }
  Daemon d(dir, dir.file("s.sock"),
           {"--trace-linger", "50ms", "--export-http", url(r, "https", "localhost"), "--export-http-ca-file", cert,
            "--export-http-format", "json", "--export-http-max-delay", "20ms"});
  REQUIRE(d.wait_ready());
  const auto ids = send_traces(d.socket_path(), 600, 3);
  REQUIRE(wait_until([&] { return arrivals(r, {}).size() == ids.size(); }));
  CHECK(exactly_once(arrivals(r, {}), ids));
}
}
