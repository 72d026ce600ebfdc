// POST /v1/traces on the real daemon: OTLP JSON (as the OpenTelemetry JS SDK sends it,
// plain or gzip) reaches the store and the exporters; refused bodies get their statuses.

#include <doctest/doctest.h>

#include "tests/support/gzip_compress.hpp"

#include <zlib.h>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

const std::string json_type = "Content-Type: application/json\r\n";

/** One OTLP span as the JS SDK's JSON exporter writes it. */
std::string otlp_span(const std::string& trace, const std::string& span, const std::string& parent,
                      const std::string& name, const std::string& kind,
                      const std::string& status = R"({"code":0})") {
  return R"({"traceId":")" + trace + R"(","spanId":")" + span + R"(","parentSpanId":")" + parent +
         R"(","name":")" + name + R"(","kind":1,"startTimeUnixNano":"1732500000000000000",)" +
         R"("endTimeUnixNano":"1732500000250000000","attributes":[{"key":"openinference.span.kind",)" +
         R"("value":{"stringValue":")" + kind + R"("}},{"key":"input.value","value":{"stringValue":"what is 2+2?"}},)" +
         R"({"key":"session.id","value":{"stringValue":"otlp-run"}},{"key":"llm.model_name","value":{"stringValue":"gpt-x"}}],)" +
         R"("droppedAttributesCount":0,"events":[],"droppedEventsCount":0,"status":)" + status +
         R"(,"links":[],"droppedLinksCount":0})";
}

std::string otlp_request(const std::vector<std::string>& spans) {
  std::string list;
  for (const auto& s : spans) list += (list.empty() ? "" : ",") + s;
  return R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"js-agent"}}],)"
         R"("droppedAttributesCount":0},"scopeSpans":[{"scope":{"name":"@arizeai/openinference","version":"1.0.0"},)"
         R"("spans":[)" + list + "]}]}]}";
}

const std::string trace_a = "5b8efff798038103d269b633813fc60c";
const std::string root_a = "eee19b7ec3c1b174";
const std::string llm_a = "eee19b7ec3c1b173";

/** A root AGENT span and a failing LLM child (status code 2). */
std::string sdk_request(const std::string& trace) {
  return otlp_request({otlp_span(trace, root_a, "", "agent.run", "AGENT"),
                       otlp_span(trace, llm_a, root_a, "llm.call", "LLM", R"({"code":2,"message":"rate limited"})")});
}

using tracecol::testing::gzip_compress;

/** Polls GET /api/traces/{id} until it answers 200; the trace record, or nullopt at the deadline. */
std::optional<HttpResponse> wait_trace(HttpDaemon& h, const std::string& id) {
  std::optional<HttpResponse> got;
  if (!wait_until([&] {
        got = h.get("/api/traces/" + id);
        return got && got->status == 200;
      }))
    return std::nullopt;
  return got;
}

const rapidjson::Value* span_named(const rapidjson::Value& trace, const std::string& name) {
  if (!trace.HasMember("spans") || !trace["spans"].IsArray()) return nullptr;
  for (const auto& s : trace["spans"].GetArray())
    if (str(s, "name") == name) return &s;
  return nullptr;
}

}  // namespace

TEST_SUITE("otlp ingest") {
TEST_CASE("an OTLP JSON request from the JS SDK completes by linger and reaches the store and exporters") {
  TempDir dir;
  HttpDaemon h(dir, {"--trace-linger", "100ms", "--export-file", dir.file("out.ndjson")});
  HttpClient c(h.port);
  auto posted = c.request("POST", "/v1/traces", sdk_request(trace_a), "Content-Type: application/json; charset=utf-8\r\n");
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->headers["content-type"] == "application/json");
  CHECK(posted->body == "{}");

  auto got = wait_trace(h, trace_a);
  REQUIRE(got);
  auto doc = parse_ndjson(got->body + "\n");
  REQUIRE(doc.records.size() == 1);
  const auto& trace = doc.records[0];
  CHECK(str(trace, "trace_id") == trace_a);
  CHECK(str(trace, "run_id") == "otlp-run");
  CHECK(num(trace, "span_count") == 2);
  CHECK(num(trace, "error_count") == 1);
  const rapidjson::Value* root = span_named(trace, "agent.run");
  const rapidjson::Value* llm = span_named(trace, "llm.call");
  REQUIRE(root != nullptr);
  REQUIRE(llm != nullptr);
  CHECK(str(*root, "span_id") == root_a);
  CHECK(str(*llm, "parent_id") == root_a);
  CHECK(str(*root, "kind") == "AGENT");
  CHECK(str(*llm, "kind") == "LLM");
  CHECK(raw(*llm, "inputs") == R"({"value":"what is 2+2?"})");
  CHECK(str(*llm, "error") == "rate limited");
  CHECK(is_null(*root, "error"));
  CHECK(raw(*llm, "metadata").find(R"("service.name":"js-agent")") != std::string::npos);
  CHECK(raw(*llm, "metadata").find(R"("llm.model_name":"gpt-x")") != std::string::npos);

  REQUIRE(wait_until([&] { return records_for(read_ndjson(dir.file("out.ndjson")), trace_a).size() == 1; }));
  auto m = h.get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("tracecol_http_requests_total{route=\"v1_traces\",code=\"200\"} 1") != std::string::npos);
  CHECK(m->body.find("\ntracecol_events_accepted_total 2\n") != std::string::npos);
  CHECK(m->body.find("\ntracecol_lines_received_total 2\n") != std::string::npos);
}

TEST_CASE("a service whose local root has a remote parent gets its trace exported after the rootless linger") {
  TempDir dir;
  // Idle timeout far away: only the rootless rule can complete the trace in time.
  HttpDaemon h(dir, {"--trace-linger", "100ms", "--trace-rootless-linger", "300ms", "--trace-idle-timeout", "10m",
                     "--export-file", dir.file("out.ndjson")});
  HttpClient c(h.port);
  const std::string remote_parent = "00f067aa0ba902b7";  // from the caller's traceparent
  auto posted = c.request("POST", "/v1/traces",
                          otlp_request({otlp_span(trace_a, root_a, remote_parent, "handle.request", "CHAIN"),
                                        otlp_span(trace_a, llm_a, root_a, "llm.call", "LLM")}),
                          "Content-Type: application/json\r\n");
  REQUIRE(posted);
  CHECK(posted->status == 200);
  REQUIRE(wait_until([&] { return records_for(read_ndjson(dir.file("out.ndjson")), trace_a).size() == 1; }));
  const NdjsonFile file = read_ndjson(dir.file("out.ndjson"));
  const auto records = records_for(file, trace_a);
  REQUIRE(records.size() == 1);
  CHECK(flag(*records[0], "complete"));
  CHECK((*records[0])["spans"].Size() == 2);
}

TEST_CASE("half an emoji from a JS string costs that character, not the request: U+FFFD, counted") {
  TempDir dir;
  HttpDaemon h(dir, {"--trace-linger", "100ms"});
  HttpClient c(h.port);
  std::string req = sdk_request(trace_a);
  const std::string name = R"("name":"agent.run")";
  req.replace(req.find(name), name.size(), R"("name":"party \ud83c")");  // 'party 🎉'.slice(0, 7)
  auto posted = c.request("POST", "/v1/traces", req, "Content-Type: application/json\r\n");
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->body == "{}");
  auto got = wait_trace(h, trace_a);
  REQUIRE(got);
  CHECK(got->body.find("party \xef\xbf\xbd") != std::string::npos);
  auto m = h.get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("\ntracecol_otlp_lone_surrogates_replaced_total 1\n") != std::string::npos);
}

TEST_CASE("a gzip OTLP body is inflated and ingested") {
  TempDir dir;
  HttpDaemon h(dir, {"--trace-linger", "100ms"});
  HttpClient c(h.port);
  const std::string trace = "00000000000000000000000000000abc";
  auto posted = c.request("POST", "/v1/traces", gzip_compress(sdk_request(trace)), json_type + "Content-Encoding: gzip\r\n");
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->body == "{}");
  auto got = wait_trace(h, trace);
  REQUIRE(got);
  CHECK(got->body.find("\"span_count\":2") != std::string::npos);
}

TEST_CASE("protobuf, other content types, other encodings, wrong methods and garbage get their statuses") {
  TempDir dir;
  HttpDaemon h(dir, {});
  HttpClient c(h.port);
  auto pb = c.request("POST", "/v1/traces", std::string("\x0a\x02\x0a\x00", 4), "Content-Type: application/x-protobuf\r\n");
  REQUIRE(pb);
  CHECK(pb->status == 415);
  CHECK(pb->headers["content-type"] == "application/json");
  CHECK(pb->body.find("only JSON (application/json) is supported") != std::string::npos);
  CHECK(c.request("POST", "/v1/traces", "{}", "Content-Type: text/plain\r\n")->status == 415);
  CHECK(c.request("POST", "/v1/traces", "{}")->status == 415);  // no Content-Type
  CHECK(c.request("POST", "/v1/traces", "{}", json_type + "Content-Encoding: br\r\n")->status == 415);
  auto get = c.request("GET", "/v1/traces");
  REQUIRE(get);
  CHECK(get->status == 405);
  CHECK(get->headers["allow"] == "POST");

  auto garbage = c.request("POST", "/v1/traces", "this is not json {", json_type);
  REQUIRE(garbage);
  CHECK(garbage->status == 400);
  CHECK(garbage->body.find("\"error\"") != std::string::npos);
  auto bad_gzip = c.request("POST", "/v1/traces", "\x1f\x8b not really gzip", json_type + "Content-Encoding: gzip\r\n");
  REQUIRE(bad_gzip);
  CHECK(bad_gzip->status == 400);
  auto empty = c.request("POST", "/v1/traces", R"({"resourceSpans":[]})", json_type);
  REQUIRE(empty);
  CHECK(empty->status == 200);
  CHECK(empty->body == "{}");
}

TEST_CASE("a partly bad request answers partialSuccess with the rejected count, the assembler's included") {
  TempDir dir;
  HttpDaemon h(dir, {"--trace-linger", "100ms", "--max-spans-per-trace", "2"});
  HttpClient c(h.port);
  const std::string trace = "0000000000000000000000000000beef";
  std::string bad_id = otlp_span(trace, "zz", "", "broken", "TOOL");
  auto posted = c.request("POST", "/v1/traces",
                          otlp_request({otlp_span(trace, root_a, "", "root", "AGENT"), bad_id,
                                        otlp_span(trace, llm_a, root_a, "one", "TOOL"),
                                        otlp_span(trace, "00000000000000c3", root_a, "two", "TOOL")}),
                          json_type);
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->body.starts_with(R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":")"));
  CHECK(posted->body.find("spanId") != std::string::npos);
  auto got = wait_trace(h, trace);
  REQUIRE(got);
  CHECK(got->body.find("\"span_count\":2") != std::string::npos);
}

TEST_CASE("a numeric name is refused in partialSuccess and a numeric intValue keeps every digit") {
  TempDir dir;
  HttpDaemon h(dir, {"--trace-linger", "100ms"});
  HttpClient c(h.port);
  const std::string trace = "0000000000000000000000000000cafe";
  std::string numeric_name = otlp_span(trace, llm_a, root_a, "x", "TOOL");
  numeric_name.replace(numeric_name.find(R"("name":"x")"), 10, R"("name":5)");
  std::string root = otlp_span(trace, root_a, "", "root", "AGENT");
  root.replace(root.find(R"("attributes":[)") + 14, 0, R"({"key":"big","value":{"intValue":9007199254740993}},)");
  auto posted = c.request("POST", "/v1/traces", otlp_request({root, numeric_name}), json_type);
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->body.starts_with(R"({"partialSuccess":{"rejectedSpans":"1","errorMessage":"span 1: name is not a string)"));
  auto got = wait_trace(h, trace);
  REQUIRE(got);
  CHECK(got->body.find("\"span_count\":1") != std::string::npos);
  CHECK(got->body.find(R"("big":9007199254740993)") != std::string::npos);  // the raw bytes, not through a double
}

TEST_CASE("a gzip bomb over --http-max-body gets 413 and the daemon stays healthy") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-max-body", "1MiB", "--trace-linger", "100ms"});
  const std::string bomb = gzip_compress(std::string(64u << 20, '\0'));
  REQUIRE(bomb.size() < (1u << 20));
  HttpClient c(h.port);
  auto refused = c.request("POST", "/v1/traces", bomb, json_type + "Content-Encoding: gzip\r\n");
  REQUIRE(refused);
  CHECK(refused->status == 413);
  CHECK(refused->body.find("\"error\"") != std::string::npos);
  auto health = h.get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  const std::string trace = "000000000000000000000000000b0b0b";
  HttpClient after(h.port);
  auto ok = after.request("POST", "/v1/traces", gzip_compress(sdk_request(trace)), json_type + "Content-Encoding: gzip\r\n");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  REQUIRE(wait_trace(h, trace));
  CHECK(h.daemon.running());
}
}
