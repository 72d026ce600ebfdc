#include <doctest/doctest.h>

#include <string>

#include "protocol/otlp_decoder.hpp"
#include "protocol/otlp_encoder.hpp"
#include "protocol/otlp_proto_encoder.hpp"
#include "tests/unit/otlp/otlp_test_support.hpp"

namespace tp = tracecol::protocol;
using tracecol::protocol::testing::golden_trace;

namespace {

// Written the way @opentelemetry/otlp-transformer's JSON serializer writes it (OpenInference
// JS instrumentation on top): hex ids, kind and status code as numbers, 64-bit times and
// intValue as strings, dropped* counts, links, schemaUrl.
constexpr std::string_view js_sdk_request = R"({
  "resourceSpans": [{
    "resource": {
      "attributes": [
        {"key": "service.name", "value": {"stringValue": "js-agent"}},
        {"key": "telemetry.sdk.language", "value": {"stringValue": "nodejs"}}
      ],
      "droppedAttributesCount": 0
    },
    "scopeSpans": [{
      "scope": {"name": "@arizeai/openinference-instrumentation-openai", "version": "1.2.0"},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "traceState": "",
        "name": "OpenAI Chat Completions",
        "kind": 3,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "attributes": [
          {"key": "openinference.span.kind", "value": {"stringValue": "LLM"}},
          {"key": "input.value", "value": {"stringValue": "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"}},
          {"key": "input.mime_type", "value": {"stringValue": "application/json"}},
          {"key": "output.value", "value": {"stringValue": "Hello there"}},
          {"key": "output.mime_type", "value": {"stringValue": "text/plain"}},
          {"key": "session.id", "value": {"stringValue": "sess-7"}},
          {"key": "llm.token_count.total", "value": {"intValue": "42"}},
          {"key": "llm.invocation_parameters.temperature", "value": {"doubleValue": 0.7}},
          {"key": "llm.streaming", "value": {"boolValue": false}},
          {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 2}]}}},
          {"key": "nested", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}},
          {"key": "blob", "value": {"bytesValue": "AAEC"}},
          {"key": "empty", "value": {}}
        ],
        "droppedAttributesCount": 0,
        "events": [{
          "timeUnixNano": "1544712660500000000",
          "name": "exception",
          "attributes": [{"key": "exception.message", "value": {"stringValue": "boom"}}],
          "droppedAttributesCount": 0
        }],
        "droppedEventsCount": 0,
        "status": {"code": 2, "message": "rate limited"},
        "links": [],
        "droppedLinksCount": 0
      }]
    }],
    "schemaUrl": "https://opentelemetry.io/schemas/1.24.0"
  }]
})";

}  // namespace

TEST_SUITE("otlp decoder") {
  TEST_CASE("round trip gives back the same spans") {
    const tp::Trace trace = golden_trace();
    const tp::Trace* traces[] = {&trace};
    std::string body;
    tp::append_otlp_request(body, std::span<const tp::Trace* const>(traces), "svc");
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.ok);
    CHECK(r.rejected == 0);
    CHECK(r.first_error.empty());
    REQUIRE(r.spans.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      const tp::Span& want = trace.spans[i];
      const tp::Span& got = r.spans[i];
      CAPTURE(i);
      CHECK(got.trace_id == want.trace_id);
      CHECK(got.span_id == want.span_id);
      CHECK(got.parent_id == want.parent_id);
      CHECK(got.started_at_ns == want.started_at_ns);
      CHECK(got.ended_at_ns == want.ended_at_ns);
      CHECK(got.kind == want.kind);
      CHECK(got.name == want.name);
      CHECK(got.run_id == want.run_id);
      CHECK(got.has_error() == want.has_error());
      CHECK(got.error == want.error);
      CHECK(got.inputs == want.inputs);
      CHECK(got.outputs == want.outputs);
    }
    CHECK(r.spans[0].metadata == R"({"service.name":"svc"})");
    CHECK(r.spans[2].metadata ==
          R"({"attempt":3,"ratio":0.5,"ok":false,"tags":["a","b"],"note":"caf)"
          "\xc3\xa9 \xe2\x9c\x93"
          R"(","nothing":null,"service.name":"svc"})");
  }

  TEST_CASE("round trip keeps nested arrays and objects as arrays and objects, in both encodings") {
    tp::Trace trace = golden_trace();
    const std::string nested =
        R"({"a":[1,-2,3.5,true,null,"x\"y",[],{}],"o":{"k":{"z":[{"q":1e999}]},"e":""},"n":null,)"
        R"("deep":[[[[0]]]],"s":"plain"})";
    trace.spans[0].metadata = nested;
    const tp::Trace* traces[] = {&trace};
    std::string body;
    tp::append_otlp_request(body, std::span<const tp::Trace* const>(traces), "svc");
    CHECK(body.find(R"("arrayValue":{"values":[{"intValue":"1"},{"intValue":"-2"},{"doubleValue":3.5})") != std::string::npos);
    CHECK(body.find(R"("kvlistValue":{"values":[{"key":"k","value":{"kvlistValue")") != std::string::npos);
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.ok);
    REQUIRE(r.spans.size() == 3);
    // 1e999 no double holds: carried as its text, as at the top level.
    CHECK(r.spans[0].metadata ==
          R"({"a":[1,-2,3.5,true,null,"x\"y",[],{}],"o":{"k":{"z":[{"q":"1e999"}]},"e":""},"n":null,)"
          R"("deep":[[[[0]]]],"s":"plain","service.name":"svc"})");
    // The bound holds for the worst nesting: every value a one-digit array.
    tp::Trace worst = golden_trace();
    std::string many = R"({"w":[)";
    for (int i = 0; i < 2000; ++i) many += i ? ",[0]" : "[0]";
    many += "]}";
    worst.spans[1].metadata = many;
    const tp::Trace* worst_traces[] = {&worst};
    std::string worst_body;
    tp::append_otlp_request(worst_body, std::span<const tp::Trace* const>(worst_traces), "svc");
    const tp::OtlpDecodeResult w = tp::decode_otlp_request(worst_body, {});
    REQUIRE(w.ok);
    REQUIRE(w.spans.size() == 3);
    CHECK(w.spans[1].metadata.substr(0, many.size() - 1) == many.substr(0, many.size() - 1));
  }

  TEST_CASE("metadata keys go out by their own names, and those ours would take come back intact") {
    tp::Trace trace = golden_trace();
    trace.spans[0].metadata =
        R"({"llm.model_name":"m1","session.id":"not-the-run","input.value":"x","metadata.x":1,"":2,"openinference.span.kind":"EMBEDDING"})";
    const tp::Trace* traces[] = {&trace};
    std::string body;
    tp::append_otlp_request(body, std::span<const tp::Trace* const>(traces), "svc");
    CHECK(body.find(R"({"key":"llm.model_name","value":{"stringValue":"m1"}})") != std::string::npos);
    CHECK(body.find(R"({"key":"metadata.session.id","value":{"stringValue":"not-the-run"}})") != std::string::npos);
    CHECK(body.find(R"({"key":"metadata.metadata.x","value":{"intValue":"1"}})") != std::string::npos);
    CHECK(body.find(R"({"key":"metadata.","value":{"intValue":"2"}})") != std::string::npos);
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.ok);
    REQUIRE(r.spans.size() == 3);
    CHECK(r.spans[0].run_id == trace.spans[0].run_id);
    CHECK(r.spans[0].kind == trace.spans[0].kind);
    CHECK(r.spans[0].metadata ==
          R"({"llm.model_name":"m1","session.id":"not-the-run","input.value":"x","metadata.x":1,"":2,)"
          R"("openinference.span.kind":"EMBEDDING","service.name":"svc"})");
  }

  TEST_CASE("OTLP span kinds and OpenInference kinds of no SpanKind of ours come back as received") {
    const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[)"
        R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000001","name":"a","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2",)"
        R"("attributes":[{"key":"openinference.span.kind","value":{"stringValue":"EMBEDDING"}}]},)"
        R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000002","name":"b","kind":"SPAN_KIND_CONSUMER","startTimeUnixNano":"1",)"
        R"("attributes":[{"key":"openinference.span.kind","value":{"stringValue":"llm"}}]},)"
        R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000003","name":"c","kind":1,"startTimeUnixNano":"1"}]}]}]})";
    const tp::OtlpDecodeResult in = tp::decode_otlp_request(body, {});
    REQUIRE(in.ok);
    REQUIRE(in.spans.size() == 3);
    CHECK(in.spans[0].kind == tp::SpanKind::custom);
    CHECK(in.spans[0].metadata == R"({"openinference.span.kind":"EMBEDDING","span.kind":"server"})");
    CHECK(in.spans[1].kind == tp::SpanKind::llm);  // any case
    CHECK(in.spans[1].metadata == R"({"span.kind":"consumer"})");
    CHECK(in.spans[2].metadata == "{}");  // INTERNAL is the default: nothing kept
    tp::Trace trace;
    trace.trace_id = in.spans[0].trace_id;
    trace.spans = in.spans;
    const tp::Trace* traces[] = {&trace};
    for (const bool proto : {false, true}) {
      CAPTURE(proto);
      std::string out;
      if (proto) {
        tp::append_otlp_proto_request(out, std::span<const tp::Trace* const>(traces), "svc");
        CHECK(out.find("EMBEDDING") != std::string::npos);
        continue;  // the protobuf body is read back in tests/unit/export_http
      }
      tp::append_otlp_request(out, std::span<const tp::Trace* const>(traces), "svc");
      CHECK(out.find(R"("openinference.span.kind","value":{"stringValue":"EMBEDDING"}})") != std::string::npos);
      CHECK(out.find(R"("kind":2)") != std::string::npos);
      CHECK(out.find(R"("kind":5)") != std::string::npos);
      CHECK(out.find(R"("key":"span.kind")") == std::string::npos);  // the kind, not an attribute
      const tp::OtlpDecodeResult back = tp::decode_otlp_request(out, {});
      REQUIRE(back.ok);
      REQUIRE(back.spans.size() == 3);
      for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(back.spans[i].kind == in.spans[i].kind);
        const std::string want = in.spans[i].metadata == "{}" ? R"({"service.name":"svc"})"
                                 : in.spans[i].metadata.substr(0, in.spans[i].metadata.size() - 1) + R"(,"service.name":"svc"})";
        CHECK(back.spans[i].metadata == want);
      }
    }
  }

  TEST_CASE("proto field names (snake_case) are read like lowerCamelCase, as protojson reads them") {
    const std::string body = R"({"resource_spans":[{"resource":{"attributes":[{"key":"service.name","value":{"string_value":"py"}}]},)"
        R"("scope_spans":[{"spans":[{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"0000000000000002",)"
        R"("parent_span_id":"0000000000000001","name":"x","start_time_unix_nano":"5","end_time_unix_nano":"9",)"
        R"("attributes":[{"key":"n","value":{"int_value":"7"}},{"key":"a","value":{"array_value":{"values":[{"bool_value":true}]}}}],)"
        R"("events":[{"name":"e","time_unix_nano":"6"}]}]}]}]})";
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.ok);
    REQUIRE(r.spans.size() == 1);
    CHECK(r.spans[0].parent_id == 1);
    CHECK(r.spans[0].started_at_ns == 5);
    CHECK(r.spans[0].ended_at_ns == 9);
    CHECK(r.spans[0].metadata ==
          R"({"n":7,"a":[true],"events":[{"name":"e","time_unix_nano":"6"}],"service.name":"py"})");
  }

  TEST_CASE("OTLP events come back as events, in both encodings, and other 'events' members stay attributes") {
    const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[)"
        R"({"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"0000000000000001","name":"a","startTimeUnixNano":"1",)"
        R"("endTimeUnixNano":"9","events":[{"timeUnixNano":"5","name":"exception","attributes":[)"
        R"({"key":"exception.message","value":{"stringValue":"boom \"x\""}},{"key":"n","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]},)"
        R"({"timeUnixNano":"6","name":"retry"}]}]}]}]})";
    const tp::OtlpDecodeResult in = tp::decode_otlp_request(body, {});
    REQUIRE(in.ok);
    REQUIRE(in.spans.size() == 1);
    const std::string stored = in.spans[0].metadata;
    CHECK(stored ==
          R"({"events":[{"name":"exception","time_unix_nano":"5","attributes":{"exception.message":"boom \"x\"","n":[1]}},)"
          R"({"name":"retry","time_unix_nano":"6"}]})");
    tp::Trace trace;
    trace.trace_id = in.spans[0].trace_id;
    trace.spans = in.spans;
    const tp::Trace* traces[] = {&trace};
    std::string json;
    tp::append_otlp_request(json, std::span<const tp::Trace* const>(traces), "svc");
    CHECK(json.find(R"("events":[{"timeUnixNano":"5","name":"exception","attributes":[{"key":"exception.message",)"
                    R"("value":{"stringValue":"boom \"x\""}},{"key":"n","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]},)"
                    R"({"timeUnixNano":"6","name":"retry"}])") != std::string::npos);
    CHECK(json.find(R"("key":"events")") == std::string::npos);
    const tp::OtlpDecodeResult back = tp::decode_otlp_request(json, {});
    REQUIRE(back.ok);
    REQUIRE(back.spans.size() == 1);
    CHECK(back.spans[0].metadata == stored.substr(0, stored.size() - 1) + R"(,"service.name":"svc"})");
    std::string proto;
    tp::append_otlp_proto_request(proto, std::span<const tp::Trace* const>(traces), "svc");
    CHECK(proto.find("exception.message") != std::string::npos);
    CHECK(proto.find("boom \"x\"") != std::string::npos);  // decoded text in protobuf
    // An agent's own "events" member of another shape is an attribute like any other.
    tp::Trace other = trace;
    other.spans[0].metadata = R"({"events":[1,2],"x":{"events":[]}})";
    const tp::Trace* others[] = {&other};
    std::string json2;
    tp::append_otlp_request(json2, std::span<const tp::Trace* const>(others), "svc");
    CHECK(json2.find(R"({"key":"events","value":{"arrayValue")") != std::string::npos);
    CHECK(json2.find(R"("events":[)") == std::string::npos);
  }

  TEST_CASE("metadata nested past eight levels goes as JSON text, so our own /v1/traces takes the request") {
    tp::Trace trace = golden_trace();
    std::string deep = R"({"deep":)";
    for (int i = 0; i < 60; ++i) deep += R"({"k":)";
    deep += "1";
    for (int i = 0; i < 60; ++i) deep += "}";
    deep += R"(,"a":[[[[[[[[[[0]]]]]]]]]]})";
    trace.spans[0].metadata = deep;
    const tp::Trace* traces[] = {&trace};
    std::string body;
    tp::append_otlp_request(body, std::span<const tp::Trace* const>(traces), "svc");
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});  // the default 64 levels
    REQUIRE(r.ok);
    REQUIRE(r.spans.size() == 3);
    // Eight levels as objects, the rest as its text.
    std::string want = R"({"deep":)";
    for (int i = 0; i < 7; ++i) want += R"({"k":)";
    want += R"({"k":")";
    for (int i = 0; i < 52; ++i) want += R"({\"k\":)";
    want += "1";
    for (int i = 0; i < 52; ++i) want += "}";
    want += R"("})";
    for (int i = 0; i < 7; ++i) want += "}";
    want += R"(,"a":[[[[[[[["[[0]]"]]]]]]]],"service.name":"svc"})";
    CHECK(r.spans[0].metadata == want);
    std::string proto;
    tp::append_otlp_proto_request(proto, std::span<const tp::Trace* const>(traces), "svc");
    CHECK(proto.find(R"([[0]])") != std::string::npos);  // the text below the cap
  }

  TEST_CASE("kind members and empty events that are attributes come back as they went") {
    tp::Trace trace = golden_trace();
    trace.spans[0].kind = tp::SpanKind::custom;
    trace.spans[0].metadata = R"({"openinference.span.kind":"LLM","span.kind":"internal","events":[]})";
    const tp::Trace* traces[] = {&trace};
    std::string body;
    tp::append_otlp_request(body, std::span<const tp::Trace* const>(traces), "svc");
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.ok);
    REQUIRE(r.spans.size() == 3);
    CHECK(r.spans[0].kind == tp::SpanKind::custom);
    CHECK(r.spans[0].metadata ==
          R"({"span.kind":"internal","events":[],"openinference.span.kind":"LLM","service.name":"svc"})");
  }

  TEST_CASE("null of any AnyValue type is null, not a refused span") {
    const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c",)"
        R"("spanId":"0000000000000001","name":"a","startTimeUnixNano":"1","attributes":[)"
        R"({"key":"i","value":{"intValue":null}},{"key":"s","value":{"stringValue":null}},{"key":"b","value":{"boolValue":null}}]}]}]}]})";
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.ok);
    CHECK(r.rejected == 0);
    REQUIRE(r.spans.size() == 1);
    CHECK(r.spans[0].metadata == R"({"i":null,"s":null,"b":null})");
  }

  TEST_CASE("round trip keeps TEAM and CUSTOM through tracecol.kind") {
    tp::Trace trace = golden_trace();
    trace.spans[0].kind = tp::SpanKind::team;
    trace.spans[1].kind = tp::SpanKind::custom;
    const tp::Trace* traces[] = {&trace};
    std::string body;
    tp::append_otlp_request(body, std::span<const tp::Trace* const>(traces), "svc");
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.spans.size() == 3);
    CHECK(r.spans[0].kind == tp::SpanKind::team);
    CHECK(r.spans[1].kind == tp::SpanKind::custom);
  }

  TEST_CASE("reads what earlier tracecols sent: tracecol.kind and tracecol.run_id on every span") {
    // Before the duplicates were dropped, every span repeated its kind and run id. A tracecol
    // still receiving from one keeps both, and tracecol.run_id wins over session.id.
    const std::string body =
        R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c",)"
        R"("spanId":"b7ad6b7169203331","name":"n","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[)"
        R"({"key":"openinference.span.kind","value":{"stringValue":"LLM"}},)"
        R"({"key":"tracecol.kind","value":{"stringValue":"LLM"}},)"
        R"({"key":"session.id","value":{"stringValue":"s-1"}},)"
        R"({"key":"tracecol.run_id","value":{"stringValue":"run-7"}}]}]}]}]})";
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.spans.size() == 1);
    CHECK(r.spans[0].kind == tp::SpanKind::llm);
    CHECK(r.spans[0].run_id == "run-7");
    CHECK(r.spans[0].metadata.find("tracecol") == std::string::npos);
  }

  TEST_CASE("decodes a request written the way the OpenTelemetry JS SDK writes it") {
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(js_sdk_request, {});
    REQUIRE(r.ok);
    CHECK(r.rejected == 0);
    REQUIRE(r.spans.size() == 1);
    const tp::Span& s = r.spans[0];
    CHECK(s.trace_id.hex() == "5b8efff798038103d269b633813fc60c");
    CHECK(tp::span_id_hex(s.span_id) == "eee19b7ec3c1b174");
    CHECK(tp::span_id_hex(s.parent_id) == "eee19b7ec3c1b173");
    CHECK(s.started_at_ns == 1544712660000000000LL);
    CHECK(s.ended_at_ns == 1544712661000000000LL);
    CHECK(s.kind == tp::SpanKind::llm);
    CHECK(s.name == "OpenAI Chat Completions");
    CHECK(s.run_id == "sess-7");
    CHECK(s.inputs == R"({"messages":[{"role":"user","content":"hi"}]})");
    CHECK(s.outputs == R"({"value":"Hello there"})");
    CHECK(s.has_error());
    CHECK(s.error == "rate limited");
    CHECK(s.metadata ==
          R"({"llm.token_count.total":42,"llm.invocation_parameters.temperature":0.7,"llm.streaming":false,)"
          R"("tags":["a",2],"nested":{"k":"v"},"blob":"AAEC","empty":null,"span.kind":"client",)"
          R"("events":[{"name":"exception","time_unix_nano":"1544712660500000000","attributes":{"exception.message":"boom"}}],)"
          R"("service.name":"js-agent"})");
  }

  TEST_CASE("an empty events array adds no events member to the metadata") {
    const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
                             R"("spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2","events":[],)"
                             R"("attributes":[{"key":"k","value":{"intValue":"1"}}]}]}]}]})";
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.spans.size() == 1);
    CHECK(r.spans[0].metadata == R"({"k":1})");
  }

  TEST_CASE("accepts base64 ids, numeric times and an enum-named status") {
    const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA==",)"
                             R"("spanId":"7uGbfsPBsXQ=","startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"0",)"
                             R"("status":{"code":"STATUS_CODE_ERROR"}}]}]}]})";
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.spans.size() == 1);
    CHECK(r.spans[0].trace_id.hex() == "5b8efff798038103d269b633813fc60c");
    CHECK(tp::span_id_hex(r.spans[0].span_id) == "eee19b7ec3c1b174");
    CHECK(r.spans[0].started_at_ns == 1544712660000000000LL);
    CHECK(r.spans[0].ended_at_ns == 0);
    CHECK(r.spans[0].error == "error");
    CHECK(r.spans[0].kind == tp::SpanKind::custom);
    CHECK(r.spans[0].metadata == "{}");
  }

  TEST_CASE("redacts keys and honours include_inputs and include_outputs") {
    const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
                             R"("spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","attributes":[)"
                             R"({"key":"input.value","value":{"stringValue":"{\"API_KEY\":\"s3\",\"q\":1}"}},)"
                             R"({"key":"input.mime_type","value":{"stringValue":"application/json"}},)"
                             R"({"key":"output.value","value":{"stringValue":"null"}},)"
                             R"({"key":"output.mime_type","value":{"stringValue":"application/json"}},)"
                             R"({"key":"password","value":{"stringValue":"hunter2"}}]}]}]}]})";
    tp::DecodeOptions options;
    options.redact_keys = {"Api_Key", "password"};
    tp::OtlpDecodeResult r = tp::decode_otlp_request(body, options);
    REQUIRE(r.spans.size() == 1);
    CHECK(r.spans[0].inputs == R"({"API_KEY":"[REDACTED]","q":1})");
    CHECK(r.spans[0].outputs == "null");
    CHECK(r.spans[0].metadata == R"({"password":"[REDACTED]"})");
    options.include_inputs = false;
    options.include_outputs = false;
    r = tp::decode_otlp_request(body, options);
    REQUIRE(r.spans.size() == 1);
    CHECK(r.spans[0].inputs == "{}");
    CHECK(r.spans[0].outputs.empty());
    CHECK(!r.spans[0].has(tp::field_inputs));
  }

  TEST_CASE("pretty-printed JSON input loses its line breaks but keeps those inside strings") {
    const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
                             R"("spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","attributes":[)"
                             R"({"key":"input.value","value":{"stringValue":"{\n  \"q\" : \"a b\\nc \\\"d\\\"\",\r\n\t\"n\": [1, 2]\n}"}},)"
                             R"({"key":"input.mime_type","value":{"stringValue":"application/json"}}]}]}]}]})";
    const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
    REQUIRE(r.spans.size() == 1);
    CHECK(r.spans[0].inputs == R"({"q":"a b\nc \"d\"","n":[1,2]})");
  }

  TEST_CASE("an empty request decodes to no spans") {
    for (std::string_view body : {std::string_view("{}"), std::string_view(R"({"resourceSpans":[]})"),
                                  std::string_view(R"({"resourceSpans":[{"scopeSpans":[{"spans":[]}]}]})")}) {
      const tp::OtlpDecodeResult r = tp::decode_otlp_request(body, {});
      CHECK(r.ok);
      CHECK(r.spans.empty());
      CHECK(r.rejected == 0);
    }
  }
}
