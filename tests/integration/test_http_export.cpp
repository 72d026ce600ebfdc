// --export-http on the real daemon against a real local receiver (tests/integration/
// http_receiver.*): retry after 503 + Retry-After, a 400, an OTLP round trip into a
// second daemon, and https with a private CA. Outages, slow and silent receivers and
// exact drop accounting: test_fault_export.cpp.

#include <doctest/doctest.h>

#include <dirent.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "tests/integration/export_fixture.hpp"
#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/http_receiver.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

using namespace tracecol::integration::fixture;

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
  REQUIRE(wait_until([&] { return arrivals(r).size() == ids.size(); }));
  CHECK(exactly_once(arrivals(r), ids));
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
                           .with(R"("inputs":{"prompt":"2+2?","n":2},"outputs":{"text":"4"},"metadata":{"model":"gpt-x","tokens":12,"ok":true,"tags":["a",1,[true]],"cfg":{"t":0.2,"stop":[]},"none":null,"session.id":"not-the-run"})"));
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

TEST_CASE("a receiver that answers 413 before reading the whole body: dropped at once, not retried, the next trace goes out") {
  TempDir dir_b;
  HttpDaemon b(dir_b, {"--trace-linger", "50ms", "--http-max-body", "1MiB"});
  TempDir dir_a;
  Daemon a(dir_a, dir_a.file("s.sock"),
           {"--trace-linger", "50ms", "--export-http", "http://127.0.0.1:" + std::to_string(b.port) + "/v1/traces",
            "--export-http-max-delay", "20ms", "--export-http-max-batch-traces", "1", "--export-http-max-elapsed", "60s",
            "--max-line-bytes", "16MiB"});
  REQUIRE(a.wait_ready());
  {
    SocketClient c(a.socket_path());
    REQUIRE(c.connected());
    // 8 MiB of output: B refuses it on its Content-Length and closes while A still writes.
    const std::string big(8 << 20, 'x');
    REQUIRE(c.write_all(span_line(SpanSpec("b16", "1").named("huge").with(R"("outputs":{"text":")" + big + R"("})")) +
                        trace_end_line("b16")));
    REQUIRE(c.flush(1));
    REQUIRE(c.write_all(span_line(SpanSpec("5a11", "1").named("small")) + trace_end_line("5a11")));
    REQUIRE(c.flush(2));
  }
  // Before the fix the 413 read as a broken pipe: retried with backoff for the whole
  // --export-http-max-elapsed, the small trace stuck behind it.
  REQUIRE(wait_until([&] {
    auto got = b.get("/api/traces/" + trace_hex("5a11"));
    return got && got->status == 200;
  }));
  REQUIRE(a.terminate());
  const std::string summary = exporter_summary(a.err());
  CHECK(summary.find(" failed=1 ") != std::string::npos);
  CHECK(summary.find(" retried=0 ") != std::string::npos);
  CHECK(summary.find(" sent=1 ") != std::string::npos);
  CHECK(a.err().find("HTTP 413") != std::string::npos);
  CHECK(a.err().find("retrying with backoff") == std::string::npos);
}

/** stdout of `protoc --decode_raw` (Debian's protobuf-compiler) reading file; empty when it fails. */
std::string protoc_decode_raw(const std::string& file) {
  const std::string cmd = "protoc --decode_raw < '" + file + "' 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    if (pclose(p) != 0) out.clear();
  }
  return out;
}

TEST_CASE("OTLP protobuf export: protoc, a decoder nobody here wrote, reads the daemon's request as OTLP says") {
  TempDir dir;
  HttpReceiver r;
  Daemon d(dir, dir.file("s.sock"),
           {"--trace-linger", "50ms", "--export-http", url(r), "--export-http-format", "otlp-proto",
            "--export-http-max-delay", "20ms", "--export-http-service-name", "agents-prod"});
  REQUIRE(d.wait_ready());
  const std::string t = "7f3b";
  {
    SocketClient c(d.socket_path());
    REQUIRE(c.connected());
    std::string lines;
    lines += span_line(SpanSpec(t, "11", "10").named("llm call").of_kind("LLM").run("run-pb").at(1732500000.25, 1732500000.75)
                           .with(R"("inputs":{"prompt":"2+2?"},"metadata":{"model":"gpt-x","tokens":12,"ok":true})"));
    lines += span_line(SpanSpec(t, "10").named("agent").of_kind("AGENT").run("run-pb").at(1732500000.0, 1732500001.0)
                           .with(R"("error":"gave up")"));
    lines += trace_end_line(t);
    REQUIRE(c.write_all(lines));
    REQUIRE(c.flush(1));
  }
  REQUIRE(wait_until([&] { return r.request_count() >= 1; }));
  const auto req = r.requests().at(0);
  CHECK(req.headers.at("content-type") == "application/x-protobuf");
  const std::string file = dir.file("request.pb");
  { std::ofstream(file, std::ios::binary) << req.body; }
  const std::string text = protoc_decode_raw(file);
  REQUIRE_MESSAGE(!text.empty(), "protoc --decode_raw failed (is protobuf-compiler installed?)");
  INFO(text);
  // Field numbers: ExportTraceServiceRequest.resource_spans 1 > ResourceSpans.resource 1 >
  // Resource.attributes 1 > KeyValue key 1 / value 2 > AnyValue.string_value 1.
  CHECK(text.find("1: \"service.name\"\n      2 {\n        1: \"agents-prod\"") != std::string::npos);
  // InstrumentationScope name 1, version 2.
  CHECK(text.find("1: \"tracecol\"\n      2: \"0.1.0\"") != std::string::npos);
  // Span: trace_id 1 (16 bytes: 0x7f3b at the end), name 5, fixed64 times 7 and 8, kind 6 = INTERNAL
  // (after the attributes: the metadata may name another).
  CHECK(text.find("1: \"\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\177;\"") != std::string::npos);
  char times[96];
  std::snprintf(times, sizeof times, "7: 0x%llx\n      8: 0x%llx", 1732500000250000000ULL, 1732500000750000000ULL);
  CHECK(text.find("5: \"llm call\"\n      " + std::string(times)) != std::string::npos);
  CHECK(text.find("\n      6: 1\n") != std::string::npos);
  // Attributes 9: the input as raw JSON text, an integer metadata value as int_value 3.
  CHECK(text.find("1: \"input.value\"\n        2 {\n          1: \"{\\\"prompt\\\":\\\"2+2?\\\"}\"") != std::string::npos);
  CHECK(text.find("1: \"tokens\"\n        2 {\n          3: 12") != std::string::npos);
  CHECK(text.find("1: \"session.id\"\n        2 {\n          1: \"run-pb\"") != std::string::npos);
  // Status 15: message 2, code 3 (ERROR = 2) on the agent span; OK = 1 on the LLM span.
  CHECK(text.find("15 {\n        2: \"gave up\"\n        3: 2\n      }") != std::string::npos);
  CHECK(text.find("15 {\n        3: 1\n      }") != std::string::npos);
  REQUIRE(d.terminate());
  CHECK(exporter_summary(d.err()).find(" sent=1 ") != std::string::npos);
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
  REQUIRE(wait_until([&] { return arrivals(r).size() == ids.size(); }));
  CHECK(exactly_once(arrivals(r), ids));
}
}

TEST_CASE("threads are named for what they do: ps -L, top -H and perf tell them apart") {
  TempDir dir;
  HttpReceiver r;
  Daemon d(dir, dir.file("s.sock"),
           {"--threads", "2", "--export-http", url(r), "--export-file", dir.file("out.ndjson")});
  REQUIRE(d.wait_ready());
  const auto names = [&] {
    std::multiset<std::string> found;
    const std::string task = "/proc/" + std::to_string(d.pid()) + "/task";
    DIR* dirp = ::opendir(task.c_str());
    if (dirp == nullptr) return found;
    while (const dirent* e = ::readdir(dirp)) {
      if (e->d_name[0] == '.') continue;
      std::string comm = read_file(task + "/" + e->d_name + "/comm");
      while (!comm.empty() && comm.back() == '\n') comm.pop_back();
      found.insert(comm);
    }
    ::closedir(dirp);
    return found;
  };
  // Workers start with the daemon; wait for each name rather than for a fixed time.
  REQUIRE(wait_until([&] {
    const auto n = names();
    return n.count("tracecol") == 1 && n.count("tc-io") == 1 && n.count("tc-http-send") == 1 &&
           n.count("tc-x-http") == 1 && n.count("tc-x-ndjson") == 1;
  }));
  REQUIRE(d.terminate());
}
