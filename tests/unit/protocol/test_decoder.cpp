#include <doctest/doctest.h>

#include "protocol/decoder.hpp"
#include "test_support.hpp"

using namespace tracecol::protocol;
using namespace tracecol::protocol::testing;

TEST_SUITE("decoder") {
  TEST_CASE("decodes a whole span with every seed field") {
    Event e;
    auto r = decode(R"({"type":"span","trace_id":"3a7f1c2b","span_id":"2","parent_id":"1","run_id":"run-42",)"
                    R"("name":"llm.complete","kind":"llm","started_at":1732500000.005,"ended_at":1732500000.135,)"
                    R"("inputs":{"prompt":"hi"},"outputs":{"text":"hello"},"error":"boom","metadata":{"model":"m"}})",
                    &e);
    REQUIRE(r.ok);
    CHECK(e.type == EventType::span);
    CHECK(e.span.trace_id.hex() == "0000000000000000000000003a7f1c2b");
    CHECK(e.span.span_id == 2);
    CHECK(e.span.parent_id == 1);
    CHECK(e.span.run_id == "run-42");
    CHECK(e.span.name == "llm.complete");
    CHECK(e.span.kind == SpanKind::llm);
    CHECK(e.span.started_at_ns == 1732500000005000000LL);
    CHECK(e.span.ended_at_ns == 1732500000135000000LL);
    CHECK(e.span.inputs == R"({"prompt":"hi"})");
    CHECK(e.span.outputs == R"({"text":"hello"})");
    CHECK(e.span.has_error());
    CHECK(e.span.error == "boom");
    CHECK(e.span.metadata == R"({"model":"m"})");
    CHECK(e.span.duration_ms() == doctest::Approx(130.0));
  }

  TEST_CASE("keeps times exact to the nanosecond from decimal seconds and unix nanos") {
    Event e;
    REQUIRE(decode(R"({"type":"span","trace_id":"1","span_id":"1","started_at":1732500000.1,"ended_at":1732500000.123456789})", &e).ok);
    CHECK(e.span.started_at_ns == 1732500000100000000LL);
    CHECK(e.span.ended_at_ns == 1732500000123456789LL);
    REQUIRE(decode(R"({"type":"span","trace_id":"1","span_id":"1","start_time_unix_nano":"1732500000000000001",)"
                   R"("end_time_unix_nano":1732500000000000002})", &e).ok);
    CHECK(e.span.started_at_ns == 1732500000000000001LL);
    CHECK(e.span.ended_at_ns == 1732500000000000002LL);
  }

  TEST_CASE("converts CLOCK_MONOTONIC seconds with the daemon's offset") {
    DecodeOptions o;
    o.monotonic_offset_ns = 1'700'000'000'000'000'000LL;
    Event e;
    REQUIRE(decode(R"({"type":"span","trace_id":"1","span_id":"1","started_at":12.5})", &e, o).ok);
    CHECK(e.span.started_at_ns == 1'700'000'012'500'000'000LL);
  }

  TEST_CASE("an absent or null ended_at leaves a span open, null parent, kind and objects take defaults") {
    Event e;
    REQUIRE(decode(span_line(R"("ended_at":null,"parent_id":null,"kind":null,"inputs":null,"outputs":null,"error":null)"), &e).ok);
    CHECK_FALSE(e.span.ended());
    CHECK(e.span.parent_id == 0);
    CHECK(e.span.kind == SpanKind::custom);
    CHECK(e.span.inputs == "{}");
    CHECK_FALSE(e.span.has_error());
    CHECK(decode(span_line(R"("parent_id":"")")).ok);
  }

  TEST_CASE("reads kinds in any case and with the SpanKind. prefix") {
    for (auto [text, kind] : {std::pair{"AGENT", SpanKind::agent}, {"tool", SpanKind::tool}, {"Chain", SpanKind::chain},
                              {"SpanKind.TEAM", SpanKind::team}, {"spankind.custom", SpanKind::custom}}) {
      Event e;
      REQUIRE(decode(span_line(std::string(R"("kind":")") + text + "\""), &e).ok);
      CHECK(e.span.kind == kind);
    }
  }

  TEST_CASE("decodes span_start and span_end halves") {
    Event e;
    REQUIRE(decode(R"({"type":"span_start","trace_id":"1","span_id":"5","name":"tool.fetch","started_at":1732500000})", &e).ok);
    CHECK(e.type == EventType::span_start);
    REQUIRE(decode(R"({"type":"span_end","trace_id":"1","span_id":"5","ended_at":1732500001,"outputs":{"ok":true}})", &e).ok);
    CHECK(e.type == EventType::span_end);
    CHECK(e.span.ended_at_ns == 1732500001000000000LL);
    CHECK(e.span.has(field_outputs));
    CHECK_FALSE(e.span.has(field_started_at));
    CHECK(outcome(R"({"type":"span_end","trace_id":"1","span_id":"5"})") == "bad_time");
  }

  TEST_CASE("decodes a whole trace whose spans inherit its trace_id and run_id") {
    Event e;
    REQUIRE(decode(R"({"type":"trace","trace_id":"ab","run_id":"r1","spans":[)"
                   R"({"span_id":"1","name":"root","started_at":1732500000,"ended_at":1732500001},)"
                   R"({"span_id":"2","parent_id":"1","trace_id":"AB","started_at":1732500000,"run_id":"own"}]})", &e).ok);
    CHECK(e.type == EventType::trace);
    REQUIRE(e.spans.size() == 2);
    CHECK(e.spans[0].trace_id == e.trace_id);
    CHECK(e.spans[0].run_id == "r1");
    CHECK(e.spans[1].run_id == "own");
    CHECK(e.run_id == "r1");
  }

  TEST_CASE("decodes trace_end, flush and hello") {
    Event e;
    REQUIRE(decode(R"({"type":"trace_end","trace_id":"ff","run_id":"r"})", &e).ok);
    CHECK(e.type == EventType::trace_end);
    CHECK(e.trace_id.lo == 0xff);
    REQUIRE(decode(R"({"type":"flush","id":7})", &e).ok);
    CHECK(e.type == EventType::flush);
    CHECK(e.flush_id == 7);
    CHECK_FALSE(e.is_data());
    REQUIRE(decode(R"({"type":"hello","version":1,"client":"tracecol-py","service":"agent"})", &e).ok);
    CHECK(e.type == EventType::hello);
    CHECK(e.service_name == "agent");
    CHECK(outcome(R"({"type":"flush","id":-1})") == "bad_field");
    CHECK(outcome(R"({"type":"flush","id":"x"})") == "bad_field");
  }

  TEST_CASE("ignores unknown fields but still validates them") {
    CHECK(outcome(span_line(R"("future":{"x":[1,2,{"y":null}]})")) == "ok");
    CHECK(outcome(span_line(R"("future":{"x":tru})")) == "invalid_json");
  }

  TEST_CASE("rejects a line that is JSON but not an object as not_an_object") {
    CHECK(outcome("[]") == "not_an_object");
    CHECK(outcome(R"("span")") == "not_an_object");
    CHECK(outcome(" 42 ") == "not_an_object");
    CHECK(outcome("null") == "not_an_object");
    CHECK(outcome("not json") == "invalid_json");
  }

  TEST_CASE("rejects a line without a type as missing_type") {
    CHECK(outcome(R"({"trace_id":"1"})") == "missing_type");
    CHECK(outcome("{}") == "missing_type");
  }

  TEST_CASE("rejects an unknown or non-string type as unknown_type") {
    CHECK(outcome(R"({"type":"metric"})") == "unknown_type");
    CHECK(outcome(R"({"type":"SPAN"})") == "unknown_type");
    CHECK(outcome(R"({"type":7})") == "unknown_type");
  }

  TEST_CASE("rejects a span without trace_id as missing_trace_id") {
    CHECK(outcome(R"({"type":"span","span_id":"1","started_at":1732500000})") == "missing_trace_id");
    CHECK(outcome(R"({"type":"span_start","trace_id":null,"span_id":"1","started_at":1732500000})") == "missing_trace_id");
  }

  TEST_CASE("rejects a malformed trace_id as bad_trace_id") {
    CHECK(outcome(R"({"type":"span","trace_id":"g1","span_id":"1","started_at":1732500000})") == "bad_trace_id");
    CHECK(outcome(R"({"type":"span","trace_id":5,"span_id":"1","started_at":1732500000})") == "bad_trace_id");
    CHECK(outcome(R"({"type":"span","trace_id":"","span_id":"1","started_at":1732500000})") == "bad_trace_id");
    CHECK(outcome(R"({"type":"trace","trace_id":"ab","spans":[{"trace_id":"ac","span_id":"1","started_at":1732500000}]})") ==
          "bad_trace_id");
  }

  TEST_CASE("rejects a span without span_id as missing_span_id") {
    CHECK(outcome(R"({"type":"span","trace_id":"1","started_at":1732500000})") == "missing_span_id");
    CHECK(outcome(R"({"type":"span_end","trace_id":"1","span_id":null,"ended_at":1732500000})") == "missing_span_id");
  }

  TEST_CASE("rejects a malformed span_id or parent_id as bad_span_id") {
    CHECK(outcome(R"({"type":"span","trace_id":"1","span_id":"0","started_at":1732500000})") == "bad_span_id");
    CHECK(outcome(R"({"type":"span","trace_id":"1","span_id":"12345678901234567","started_at":1732500000})") == "bad_span_id");
    CHECK(outcome(span_line(R"("parent_id":12)")) == "bad_span_id");
    CHECK(outcome(span_line(R"("parent_id":"zz")")) == "bad_span_id");
  }

  TEST_CASE("rejects an unknown kind as bad_kind") {
    CHECK(outcome(span_line(R"("kind":"ROBOT")")) == "bad_kind");
    CHECK(outcome(span_line(R"("kind":3)")) == "bad_kind");
  }

  TEST_CASE("rejects missing, malformed or reversed times as bad_time") {
    CHECK(outcome(R"({"type":"span","trace_id":"1","span_id":"1"})") == "bad_time");
    CHECK(outcome(R"({"type":"span_start","trace_id":"1","span_id":"1","started_at":null})") == "bad_time");
    CHECK(outcome(span_line(R"("ended_at":"soon")")) == "bad_time");
    CHECK(outcome(span_line(R"("ended_at":1732499999)")) == "bad_time");
    CHECK(outcome(span_line(R"("end_time_unix_nano":"12x")")) == "bad_time");
    CHECK(outcome(R"({"type":"trace","trace_id":"1","spans":[{"span_id":"1"}]})") == "bad_time");
  }

  TEST_CASE("rejects a known field of the wrong JSON type as bad_field") {
    CHECK(outcome(span_line(R"("inputs":[1])")) == "bad_field");
    CHECK(outcome(span_line(R"("outputs":"text")")) == "bad_field");
    CHECK(outcome(span_line(R"("metadata":5)")) == "bad_field");
    CHECK(outcome(span_line(R"("error":{"msg":"x"})")) == "bad_field");
    CHECK(outcome(span_line(R"("name":42)")) == "bad_field");
    CHECK(outcome(span_line(R"("run_id":true)")) == "bad_field");
    CHECK(outcome(R"({"type":"trace","trace_id":"1","spans":[7]})") == "bad_field");
    CHECK(outcome(R"({"type":"trace","trace_id":"1","spans":{}})") == "bad_field");
    CHECK(outcome(R"({"type":"trace","trace_id":"1","spans":null})") == "bad_field");
  }

  TEST_CASE("rejects repeated keys as duplicate_key and bad strings as invalid_utf8") {
    CHECK(outcome(span_line(R"("name":"a","name":"b")")) == "duplicate_key");
    CHECK(outcome(span_line(R"("x":1,"x":2)")) == "duplicate_key");
    CHECK(outcome(span_line("\"name\":\"\xc0\xaf\"")) == "invalid_utf8");
    CHECK(outcome(span_line(R"("name":"\udc00")")) == "invalid_utf8");
  }

  TEST_CASE("redacts default keys at any depth and any case, splicing the bytes") {
    DecodeOptions o;
    o.redact_keys = default_redact_keys();
    Event e;
    REQUIRE(decode(span_line(R"("inputs":{"API_KEY":"sk-1","nested":{"password":{"deep":1},"keep":"v"}},)"
                             R"("metadata":{"Authorization":"Bearer x"})"),
                   &e, o).ok);
    CHECK(e.span.inputs == R"({"API_KEY":"[REDACTED]","nested":{"password":"[REDACTED]","keep":"v"}})");
    CHECK(e.span.metadata == R"({"Authorization":"[REDACTED]"})");
  }

  TEST_CASE("stores raw CR, LF and tab between tokens of kept objects as spaces, strings untouched") {
    Event e;
    REQUIRE(decode(span_line("\"inputs\":{\"a\":\r1,\r\"b\":\t2,\n\"s\":\"x\\r\\n\\ty\"},"
                             "\"outputs\":{\r\"o\":[1,\r2]\r},\"metadata\":{\"m\" :\t\"v\"}"),
                   &e).ok);
    CHECK(e.span.inputs == R"({"a": 1, "b": 2, "s":"x\r\n\ty"})");
    CHECK(e.span.outputs == R"({ "o":[1, 2] })");
    CHECK(e.span.metadata == R"({"m" : "v"})");
    // Redacted objects too, and the spans of a trace line.
    DecodeOptions o;
    o.redact_keys = default_redact_keys();
    REQUIRE(decode(span_line("\"inputs\":{\"token\":\r\"t\",\r\"k\":1}"), &e, o).ok);
    CHECK(e.span.inputs == R"({"token": "[REDACTED]", "k":1})");
    REQUIRE(decode("{\"type\":\"trace\",\"trace_id\":\"1\",\"spans\":[{\"span_id\":\"1\",\"started_at\":1732500000,"
                   "\"metadata\":{\"a\":\r1}}]}",
                   &e).ok);
    REQUIRE(e.spans.size() == 1);
    CHECK(e.spans[0].metadata == R"({"a": 1})");
  }

  TEST_CASE("drops inputs and outputs when told to, still validating them") {
    DecodeOptions o;
    o.include_inputs = false;
    o.include_outputs = false;
    Event e;
    REQUIRE(decode(span_line(R"("inputs":{"secret":1},"outputs":{"a":1})"), &e, o).ok);
    CHECK(e.span.inputs == "{}");
    CHECK(e.span.outputs.empty());
    CHECK_FALSE(e.span.has(field_inputs));
    CHECK(outcome(span_line(R"("inputs":{"a":1,"a":2})"), o) == "duplicate_key");
  }

  TEST_CASE("reports the byte offset of the problem") {
    auto r = decode(R"({"type":"span","name":"ok",  "x": nope})");
    REQUIRE_FALSE(r.ok);
    CHECK(r.offset == std::string_view(R"({"type":"span","name":"ok",  "x": )").size());
  }

  TEST_CASE("one decoder decodes many lines, keeping no state from a rejected one") {
    Decoder d;
    Event e;
    CHECK_FALSE(d.decode("{bad", e).ok);
    CHECK(d.decode(span_line(R"("name":"\u00e9t\u00e9")"), e).ok);
    CHECK(e.span.name == "\xc3\xa9t\xc3\xa9");
    CHECK_FALSE(d.decode(span_line(R"("a":1,"a":1)"), e).ok);
    CHECK(d.decode(span_line(R"("name":"\ud83d\ude00")"), e).ok);
    CHECK(e.span.name == "\xf0\x9f\x98\x80");
  }

  TEST_CASE("finds the type wherever it is in the line") {
    Event e;
    REQUIRE(decode(R"({"trace_id":"1","span_id":"2","started_at":1732500000,"name":"n","type":"span_start"})", &e).ok);
    CHECK(e.type == EventType::span_start);
    CHECK(e.span.name == "n");
    CHECK(e.span.span_id == 2);
    REQUIRE(decode(R"({"\u0074ype":"flush","id":3})", &e).ok);
    CHECK(e.flush_id == 3);
    CHECK(outcome(R"({"id":3,"type":null})") == "missing_type");
    CHECK(outcome(R"({"type":null,"id":3})") == "missing_type");
    CHECK(outcome(R"({"id":3,"type":"nope"})") == "unknown_type");
    CHECK(outcome(R"({"id":3,"type":"flush","x":[})") == "invalid_json");
  }

  TEST_CASE("fields of other event types are unknown fields: ignored, still validated") {
    CHECK(outcome(R"({"type":"flush","id":1,"name":5,"trace_id":false,"spans":"x"})") == "ok");
    CHECK(outcome(span_line(R"("version":"x","id":-1,"client":7,"spans":{})")) == "ok");
    CHECK(outcome(R"({"type":"hello","trace_id":7,"started_at":"x"})") == "ok");
    CHECK(outcome(R"({"type":"trace_end","trace_id":"1","span_id":"zz","inputs":[]})") == "ok");
    CHECK(outcome(R"({"type":"flush","name":"\ud800"})") == "invalid_utf8");
  }

  TEST_CASE("sets a field bit for each span field present, error only for a string") {
    Event e;
    REQUIRE(decode(span_line(R"("name":null,"run_id":"r","error":null,"outputs":null,"metadata":{})"), &e).ok);
    CHECK_FALSE(e.span.has(field_name));
    CHECK(e.span.has(field_run_id));
    CHECK_FALSE(e.span.has(field_error));
    CHECK(e.span.has(field_outputs));
    CHECK(e.span.outputs == "null");
    CHECK(e.span.has(field_metadata));
    CHECK(e.span.has(field_started_at));
    CHECK_FALSE(e.span.has(field_ended_at));
    CHECK_FALSE(e.span.has(field_inputs));
    CHECK(e.span.inputs == "{}");
    CHECK_FALSE(e.span.has(field_kind));
    CHECK_FALSE(e.span.has(field_parent_id));
    REQUIRE(decode(span_line(R"("error":"","kind":"TOOL","parent_id":"a")"), &e).ok);
    CHECK(e.span.has(field_error));
    CHECK(e.span.has(field_kind));
    CHECK(e.span.has(field_parent_id));
  }

  TEST_CASE("reads times in exponent form and refuses ones outside int64 nanoseconds") {
    Event e;
    REQUIRE(decode(span_line(R"("ended_at":1.732500001e9)"), &e).ok);
    CHECK(e.span.ended_at_ns == 1732500001000000000LL);
    REQUIRE(decode(span_line(R"("ended_at":17325000010e-1)"), &e).ok);
    CHECK(e.span.ended_at_ns == 1732500001000000000LL);
    CHECK(outcome(span_line(R"("ended_at":9300000000)")) == "bad_time");
    CHECK(outcome(span_line(R"("ended_at":123456789012345678901234567890)")) == "bad_time");
    CHECK(outcome(span_line(R"("ended_at":-0)")) == "bad_time");
    CHECK(outcome(span_line(R"("ended_at":true)")) == "bad_time");
    CHECK(outcome(span_line(R"("end_time_unix_nano":"0")")) == "bad_time");
    CHECK(outcome(span_line(R"("end_time_unix_nano":"9223372036854775808")")) == "bad_time");
    CHECK(outcome(span_line(R"("end_time_unix_nano":-5)")) == "bad_time");
    CHECK(outcome(span_line(R"("end_time_unix_nano":1.5)")) == "bad_time");
    CHECK(outcome(span_line(R"("end_time_unix_nano":{})")) == "bad_time");
    DecodeOptions far;
    far.monotonic_offset_ns = 9'223'372'036'854'775'000LL;
    CHECK(outcome(span_line(R"("ended_at":100)"), far) == "bad_time");
  }

  TEST_CASE("a trace line needs its trace_id, its spans list may be empty or absent") {
    Event e;
    REQUIRE(decode(R"({"type":"trace","trace_id":"1","spans":[]})", &e).ok);
    CHECK(e.spans.empty());
    CHECK(outcome(R"({"type":"trace","trace_id":"1"})") == "ok");
    CHECK(outcome(R"({"type":"trace","spans":[]})") == "missing_trace_id");
    CHECK(outcome(R"({"type":"trace_end"})") == "missing_trace_id");
    CHECK(outcome(R"({"type":"trace_end","trace_id":"0"})") == "bad_trace_id");
    CHECK(outcome(R"({"type":"trace","trace_id":"1","spans":[{"span_id":"1","started_at":1732500000,"kind":"x"}]})") ==
          "bad_kind");
    CHECK(outcome(R"({"type":"trace","trace_id":"1","spans":[{"span_id":"1","started_at":1732500000,"span_id":"2"}]})") ==
          "duplicate_key");
    CHECK(outcome(R"({"type":"trace","trace_id":"1","spans":[{"span_id":"1","started_at":1732500000},]})") ==
          "invalid_json");
  }

  TEST_CASE("hello carries an integer version and string names") {
    Event e;
    REQUIRE(decode(R"({"type":"hello"})", &e).ok);
    CHECK(e.protocol_version == 1);
    REQUIRE(decode(R"({"type":"hello","version":2,"client":"c"})", &e).ok);
    CHECK(e.protocol_version == 2);
    CHECK(e.client_name == "c");
    CHECK(outcome(R"({"type":"hello","version":1.5})") == "bad_field");
    CHECK(outcome(R"({"type":"hello","version":"1"})") == "bad_field");
    CHECK(outcome(R"({"type":"hello","client":1})") == "bad_field");
  }

  TEST_CASE("redacts in outputs and arrays, only the outermost match, keys compared unescaped") {
    DecodeOptions o;
    o.redact_keys = {"Token", "secret"};
    Event e;
    REQUIRE(decode(span_line(R"("outputs":{"list":[{"token":1},{"x":{"SECRET":{"token":2}}}]},)"
                             R"("inputs":{"tok\u0065n" : [1,2] , "tokens":3})"),
                   &e, o).ok);
    CHECK(e.span.outputs == R"({"list":[{"token":"[REDACTED]"},{"x":{"SECRET":"[REDACTED]"}}]})");
    CHECK(e.span.inputs == R"({"tok\u0065n" : "[REDACTED]" , "tokens":3})");
    REQUIRE(decode(span_line(R"("name":"token","token":"top-level stays")"), &e, o).ok);
    CHECK(e.span.name == "token");
  }

  TEST_CASE("rejects JSON syntax errors as invalid_json") {
    for (const char* bad : {"", "   ", "{", "{\"type\":\"span\",}", "{\"type\" \"span\"}", "{'type':'span'}",
                            "{\"type\":\"flush\",\"id\":01}", "{\"type\":\"flush\",\"id\":1.}",
                            "{\"type\":\"flush\",\"id\":.5}", "{\"type\":\"flush\",\"id\":+1}",
                            "{\"type\":\"flush\",\"x\":NaN}", "{\"type\":\"flush\",\"x\":Infinity}",
                            "{\"type\":\"flush\",\"x\":-}", "\xef\xbb\xbf{\"type\":\"flush\"}",
                            "{\"type\":\"flush\"}{}", "{\"type\":\"flush\",\"x\":\"a\tb\"}",
                            "{\"type\":\"flush\",\"x\":\"\\x\"}", "{\"type\":\"flush\",\"x\":\"\\u12\"}"}) {
      INFO("line: " << std::string(bad));
      CHECK(outcome(bad) == "invalid_json");
    }
    CHECK(outcome(" {\"type\":\"flush\"}\t\r ") == "ok");
  }

  TEST_CASE("refuses nesting past max_depth with too_deep") {
    DecodeOptions o;
    o.max_depth = 3;
    CHECK(outcome(span_line(R"("inputs":{"a":{}})"), o) == "ok");
    CHECK(outcome(span_line(R"("inputs":{"a":{"b":[]}})"), o) == "too_deep");
    CHECK(outcome(R"({"type":"trace","trace_id":"1","spans":[{"span_id":"1","started_at":1732500000,"inputs":{}}]})", o) ==
          "too_deep");
  }
}
