// A client nobody here wrote: the official OpenTelemetry JS SDK (BasicTracerProvider,
// BatchSpanProcessor, OTLPTraceExporter from npm, versions pinned in package-lock.json)
// sends an OpenInference-attributed agent trace to the real daemon's POST /v1/traces.
// send_spans.js prints what the SDK generated; the test reads the trace back from
// /api/traces and /api/traces/{id} and compares field by field.

#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <map>
#include <vector>
#include <string>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/otel_js/child_process.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

const std::string otel_dir = TRACECOL_OTEL_JS_DIR;

/** What send_spans.js printed: the SDK's own ids, times and export results. */
struct SdkRun {
  rapidjson::Document doc;
  const rapidjson::Value& spans() const { return doc["spans"]; }
  std::string span_id(const char* name) const { return str(spans()[name], "span_id"); }
};

/** Runs send_spans.js against the daemon; fails the test case unless node ran to the end. */
SdkRun run_sdk(const TempDir& dir, int port, const std::string& protocol, bool gzip = false) {
  REQUIRE_MESSAGE(file_exists(otel_dir + "/node_modules/@opentelemetry/sdk-trace-base/package.json"),
                  "the OpenTelemetry JS SDK is not installed: run `npm ci --prefix " << otel_dir << "` (make deps)");
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
  std::vector<std::string> argv{TRACECOL_NODE, otel_dir + "/send_spans.js", "--url", url, "--protocol", protocol};
  if (gzip) argv.emplace_back("--gzip");
  auto child = run_child(argv, otel_dir, dir.path(), default_deadline);
  REQUIRE_MESSAGE(child.has_value(), "node did not finish in time");
  INFO("node stderr: " << child->err);
  REQUIRE(child->exit_code == 0);
  SdkRun run;
  run.doc.Parse(child->out.c_str());
  REQUIRE_MESSAGE(!run.doc.HasParseError(), "node stdout is not JSON: " << child->out);
  REQUIRE(run.doc.IsObject());
  REQUIRE(run.doc.HasMember("spans"));
  REQUIRE(run.doc.HasMember("exports"));
  REQUIRE(run.doc.HasMember("requests"));
  return run;
}

/** GET target as a parsed JSON document; fails the test case unless 200 + JSON. */
rapidjson::Document get_json(HttpDaemon& h, const std::string& target) {
  auto r = h.get(target);
  REQUIRE(r.has_value());
  INFO(target << " -> " << r->status << " " << r->body);
  REQUIRE(r->status == 200);
  rapidjson::Document d;
  d.Parse(r->body.c_str());
  REQUIRE(!d.HasParseError());
  return d;
}

const rapidjson::Value* span_named(const rapidjson::Value& trace, const std::string& name) {
  for (const auto& s : trace["spans"].GetArray())
    if (str(s, "name") == name) return &s;
  return nullptr;
}

/** Epoch nanoseconds (decimal string) as the daemon's epoch seconds. */
double seconds(const rapidjson::Value& sdk_span, const char* key) {
  return static_cast<double>(std::stoll(str(sdk_span, key))) / 1e9;
}

/** Every request the SDK made was a POST /v1/traces with this content type and encoding. */
void check_requests(const SdkRun& sdk, const std::string& content_type, const std::string& encoding) {
  const auto& requests = sdk.doc["requests"];
  REQUIRE(requests.IsArray());
  REQUIRE(requests.Size() >= 1);
  for (const auto& r : requests.GetArray()) {
    CHECK(str(r, "method") == "POST");
    CHECK(str(r, "path") == "/v1/traces");
    CHECK(str(r, "content_type") == content_type);
    CHECK(str(r, "content_encoding") == encoding);
  }
}

/** Sends the SDK's trace (plain or gzip JSON) and compares what the daemon stored, field by field. */
void sdk_trace_reads_back(bool gzip) {
  TempDir dir;
  HttpDaemon h(dir, {"--trace-linger", "100ms", "--export-file", dir.file("out.ndjson")});
  const SdkRun sdk = run_sdk(dir, h.port, "json", gzip);

  // exporter-trace-otlp-http always sends OTLP/HTTP JSON (it has no protobuf switch).
  check_requests(sdk, "application/json", gzip ? "gzip" : "");
  const auto& exports = sdk.doc["exports"];
  REQUIRE(exports.IsArray());
  int exported = 0;
  for (const auto& e : exports.GetArray()) {
    INFO("export result: error=" << str(e, "error") << " body=" << str(e, "body"));
    CHECK(num(e, "code") == 0);
    exported += static_cast<int>(num(e, "spans"));
  }
  CHECK(exported == 4);
  CHECK(is_null(sdk.doc, "flush_error"));

  const std::string trace_id = str(sdk.doc, "trace_id");
  REQUIRE(trace_id.size() == 32);
  const std::string session = str(sdk.doc, "session_id");

  // The trace completes by linger (root ended, nothing open) and is listed.
  rapidjson::Document trace;
  REQUIRE(wait_until([&] {
    auto r = h.get("/api/traces/" + trace_id);
    if (!r || r->status != 200) return false;
    trace.Parse(r->body.c_str());
    return !trace.HasParseError() && flag(trace, "complete");
  }));

  // The list shows it with the SDK's trace id, run_id from session.id, root name and counts.
  {
    auto list = get_json(h, "/api/traces?run_id=" + session);
    REQUIRE(list["traces"].IsArray());
    REQUIRE(list["traces"].Size() == 1);
    const auto& summary = list["traces"][0];
    CHECK(str(summary, "trace_id") == trace_id);
    CHECK(str(summary, "run_id") == session);
    CHECK(str(summary, "name") == "agent.run");
    CHECK(num(summary, "span_count") == 4);
    CHECK(num(summary, "error_count") == 1);
    CHECK(flag(summary, "complete"));
    CHECK(num(summary, "duration_ms") == doctest::Approx(500).epsilon(1e-6));
    CHECK(num(summary, "started_at") == doctest::Approx(seconds(sdk.spans()["agent.run"], "start_ns")).epsilon(1e-12));
  }

  // The trace record holds the SDK's ids, the tree, kinds, inputs, outputs and the error.
  {
    CHECK(str(trace, "trace_id") == trace_id);
    CHECK(str(trace, "run_id") == session);
    CHECK(num(trace, "span_count") == 4);
    CHECK(num(trace, "error_count") == 1);
    CHECK(num(trace, "duration_ms") == doctest::Approx(500).epsilon(1e-6));
    REQUIRE(trace["spans"].Size() == 4);

    // Tree order: the root, then depth-first children in start order.
    const char* order[] = {"agent.run", "llm.plan", "tool.search", "llm.summarize"};
    for (int i = 0; i < 4; ++i) CHECK(str(trace["spans"][i], "name") == order[i]);

    struct Expect { const char* name; const char* kind; const char* parent; int depth; double ms; };
    const Expect expect[] = {{"agent.run", "AGENT", nullptr, 0, 500},
                             {"llm.plan", "LLM", "agent.run", 1, 120},
                             {"tool.search", "TOOL", "agent.run", 1, 250},
                             {"llm.summarize", "LLM", "tool.search", 2, 150}};
    for (const auto& e : expect) {
      CAPTURE(e.name);
      const auto* s = span_named(trace, e.name);
      REQUIRE(s != nullptr);
      const auto& sdk_span = sdk.spans()[e.name];
      CHECK(str(*s, "trace_id") == trace_id);
      CHECK(str(*s, "span_id") == str(sdk_span, "span_id"));
      CHECK(str(*s, "span_id").size() == 16);
      if (e.parent) CHECK(str(*s, "parent_id") == sdk.span_id(e.parent));
      else CHECK(is_null(*s, "parent_id"));
      CHECK(str(*s, "kind") == e.kind);
      CHECK(str(*s, "run_id") == session);
      CHECK(num(*s, "depth") == e.depth);
      CHECK(num(*s, "duration_ms") == doctest::Approx(e.ms).epsilon(1e-6));
      CHECK(num(*s, "started_at") == doctest::Approx(seconds(sdk_span, "start_ns")).epsilon(1e-12));
      CHECK(num(*s, "ended_at") == doctest::Approx(seconds(sdk_span, "end_ns")).epsilon(1e-12));
      CHECK_FALSE(flag(*s, "orphan"));
      // The resource's service.name travels with every span, in its metadata.
      REQUIRE((*s)["metadata"].IsObject());
      CHECK(str((*s)["metadata"], "service.name") == "otel-js-agent");
    }

    // input.value / output.value with mime type application/json become the objects themselves.
    const auto& root = *span_named(trace, "agent.run");
    CHECK(raw(root, "inputs") == R"({"question":"What is the weather in Paris?"})");
    CHECK(raw(root, "outputs") == R"({"answer":"I could not reach the weather service."})");
    CHECK(is_null(root, "error"));
    CHECK(str(root["metadata"], "agent.name") == "weather-bot");

    const auto& plan = *span_named(trace, "llm.plan");
    CHECK(raw(plan, "inputs") == R"({"messages":[{"role":"user","content":"weather in Paris?"}]})");
    CHECK(raw(plan, "outputs") == R"({"tool_call":"search","args":{"city":"Paris"}})");
    CHECK(str(plan["metadata"], "llm.model_name") == "gpt-test");
    CHECK(num(plan["metadata"], "llm.token_count.total") == 42);

    // text/plain values are wrapped as {"value": text}.
    const auto& summarize = *span_named(trace, "llm.summarize");
    CHECK(raw(summarize, "inputs") == R"({"value":"summarize the search results"})");
    CHECK(raw(summarize, "outputs") == R"({"value":"no results"})");

    // Status ERROR + message is the span's error; recordException's event stays in metadata.
    const auto& search = *span_named(trace, "tool.search");
    CHECK(str(search, "error") == str(sdk.doc, "error_message"));
    CHECK(raw(search, "inputs") == R"({"city":"Paris"})");
    CHECK(is_null(search, "outputs"));
    const auto& events = search["metadata"]["events"];
    REQUIRE(events.IsArray());
    REQUIRE(events.Size() == 1);
    CHECK(str(events[0], "name") == "exception");
    CHECK(str(events[0]["attributes"], "exception.message") == str(sdk.doc, "error_message"));
    CHECK(str(events[0]["attributes"], "exception.type") == "Error");
  }

  // The as_tree text and the NDJSON exporter see the same trace.
  {
    auto tree = h.get("/api/traces/" + trace_id + "/tree");
    REQUIRE(tree);
    CHECK(tree->status == 200);
    CHECK(tree->body.find("agent.run [500ms]") != std::string::npos);
    CHECK(tree->body.find("    llm.summarize [150ms]") != std::string::npos);
    REQUIRE(wait_until([&] { return !records_for(read_ndjson(dir.file("out.ndjson")), trace_id).empty(); }));
    const auto file = read_ndjson(dir.file("out.ndjson"));
    const auto records = records_for(file, trace_id);
    REQUIRE(records.size() == 1);
    CHECK(num(*records[0], "span_count") == 4);
    CHECK(str(*records[0], "run_id") == session);
  }
}

}  // namespace

TEST_SUITE("otel js sdk") {
TEST_CASE("spans from the OpenTelemetry JS SDK over OTLP/HTTP JSON read back field by field") {
  sdk_trace_reads_back(false);
}

TEST_CASE("spans from the OpenTelemetry JS SDK over gzip-compressed OTLP/HTTP JSON read back the same") {
  sdk_trace_reads_back(true);
}

TEST_CASE("the JS SDK's OTLP/HTTP protobuf exporter gets the documented 415 and nothing is stored") {
  TempDir dir;
  HttpDaemon h(dir, {"--trace-linger", "100ms"});
  const SdkRun sdk = run_sdk(dir, h.port, "protobuf");
  check_requests(sdk, "application/x-protobuf", "");

  // The exporter does not retry a 415: one failed export, carrying the daemon's JSON error.
  const auto& exports = sdk.doc["exports"];
  REQUIRE(exports.IsArray());
  REQUIRE(exports.Size() == 1);
  const auto& e = exports[0];
  CHECK(num(e, "code") == 1);
  CHECK(num(e, "http_status") == 415);
  rapidjson::Document body;
  body.Parse(str(e, "body").c_str());
  REQUIRE_MESSAGE(!body.HasParseError(), "415 body is not JSON: " << str(e, "body"));
  const std::string message = str(body, "error");
  CHECK(message.find("JSON") != std::string::npos);
  CHECK(message.find("protobuf") != std::string::npos);

  auto r = h.get("/api/traces/" + str(sdk.doc, "trace_id"));
  REQUIRE(r);
  CHECK(r->status == 404);
  auto list = get_json(h, "/api/traces");
  CHECK(list["traces"].Size() == 0);
}
}
