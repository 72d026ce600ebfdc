#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "protocol/encoder.hpp"
#include "test_support.hpp"

using namespace tracecol::protocol;
using namespace tracecol::protocol::testing;

namespace {

Span make_span(SpanId id, SpanId parent, std::int64_t start_ms, std::int64_t end_ms) {
  Span s;
  s.trace_id = *parse_trace_id("3a7f1c2b");
  s.span_id = id;
  s.parent_id = parent;
  s.started_at_ns = 1732500000000000000LL + start_ms * 1000000;
  s.ended_at_ns = end_ms < 0 ? 0 : 1732500000000000000LL + end_ms * 1000000;
  s.name = std::string("s").append(std::to_string(id));
  return s;
}

}  // namespace

TEST_SUITE("encoder") {
  TEST_CASE("writes epoch seconds with microseconds and durations in ms") {
    std::string out;
    append_epoch_seconds(out, 1732500000123456789LL);
    CHECK(out == "1732500000.123456");
    Span s = make_span(1, 0, 0, 142);
    out.clear();
    append_span_json(out, s);
    CHECK(out.find(R"("duration_ms":142,)") != std::string::npos);
    CHECK(out.find(R"("parent_id":null)") != std::string::npos);
    CHECK(out.find(R"("outputs":null)") != std::string::npos);
  }

  TEST_CASE("escapes strings so any name survives a JSON round trip") {
    std::string out;
    append_json_string(out, "a\"b\\c\n\x01");
    CHECK(out == R"("a\"b\\c\n\u0001")");
  }

  TEST_CASE("the word-at-a-time escape scan agrees with a byte-by-byte one on every byte at every offset") {
    // Reference: escape byte by byte, the obvious way.
    const auto reference = [](std::string_view s) {
      std::string r = "\"";
      for (unsigned char c : s) {
        char buf[8];
        if (c == '"') r += "\\\"";
        else if (c == '\\') r += "\\\\";
        else if (c == '\n') r += "\\n";
        else if (c == '\r') r += "\\r";
        else if (c == '\t') r += "\\t";
        else if (c == '\b') r += "\\b";
        else if (c == '\f') r += "\\f";
        else if (c < 0x20) r += (std::snprintf(buf, sizeof buf, "\\u%04x", c), buf);
        else r += static_cast<char>(c);
      }
      return r + "\"";
    };
    for (int b = 0; b < 256; ++b) {
      for (std::size_t at = 0; at < 19; ++at) {
        std::string s(19, 'x');
        s[at] = static_cast<char>(b);
        std::string out;
        append_json_string(out, s);
        INFO("byte " << b << " at " << at);
        CHECK(out == reference(s));
      }
    }
    std::string mixed = "plain ascii text, then \xc3\xa9\xe2\x82\xac UTF-8, \x7f\x80\xff and \"quotes\" \\ \x1f";
    for (std::size_t cut = 0; cut <= mixed.size(); ++cut) {
      std::string out;
      append_json_string(out, std::string_view(mixed).substr(cut));
      CHECK(out == reference(std::string_view(mixed).substr(cut)));
    }
    // Dense and random escapes at every length around the block sizes: the growth path
    // (controls expand 6x) and the block / tail boundaries, appended after existing text.
    std::mt19937 rng(7);
    const std::string alphabet = std::string("ab\"\\\n\x01\x1f\x7f\xc3 ") + '\0';
    for (std::size_t len = 0; len < 80; ++len) {
      for (int round = 0; round < 20; ++round) {
        std::string s;
        for (std::size_t i = 0; i < len; ++i)
          s += round == 0 ? '\x02' : alphabet[rng() % alphabet.size()];
        std::string out = "prefix";
        append_json_string(out, s);
        INFO("length " << len << " round " << round);
        CHECK(out == "prefix" + reference(s));
      }
    }
  }

  TEST_CASE("write_json_string stays within json_string_bound and writes what append_json_string appends") {
    // Each string is written into a heap block of exactly its bound, so an overrun is a
    // sanitizer report (the asan preset), not a silent scribble.
    const auto check = [](std::string_view s) {
      const std::size_t bound = json_string_bound(s);
      const auto block = std::make_unique<char[]>(bound);
      const std::size_t written = static_cast<std::size_t>(write_json_string(block.get(), s) - block.get());
      std::string appended;
      append_json_string(appended, s);
      CHECK(written <= bound);
      CHECK(std::string_view(block.get(), written) == appended);
      return bound;
    };
    std::mt19937 rng(11);
    const std::string alphabet = std::string("ab\"\\\n\x01\x1f\x7f\xc3 ") + '\0';
    for (std::size_t len = 0; len < 100; ++len)
      for (int round = 0; round < 10; ++round) {
        std::string s;
        for (std::size_t i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
        INFO("length " << len << " round " << round);
        check(s);
      }
    // Exact for quotes and backslashes (2 bytes each), 6 per control; past 255 blocks of
    // 16, where the byte-lane counters are summed before they can wrap.
    CHECK(check(std::string(10000, '"')) == 2 + 20000);
    CHECK(check(std::string(10000, '\x01')) == 2 + 60000);
    CHECK(check(std::string(4097, '\\')) == 2 + 2 * 4097);
    CHECK(check(std::string(5000, 'x')) == 2 + 5000);
    // Additive: a string's bound is within the sum of its pieces' (the OTLP encoder sizes
    // metadata members by the whole object's bound).
    const std::string whole = "{\"k\":\"v\\\"\",\"n\":[\"\\u0001\",1]}";
    for (std::size_t cut = 0; cut <= whole.size(); ++cut)
      CHECK(json_string_bound(whole) <= json_string_bound(std::string_view(whole).substr(0, cut)) +
                                            json_string_bound(std::string_view(whole).substr(cut)));
  }

  TEST_CASE("a trace record holds the summary fields and spans in tree order with depth") {
    Trace t;
    t.trace_id = *parse_trace_id("3a7f1c2b");
    t.run_id = "run-42";
    t.complete = true;
    t.spans = {make_span(3, 1, 130, 142), make_span(1, 0, 0, 142), make_span(2, 1, 5, 135)};
    t.spans[0].error = "timeout";
    t.spans[0].fields |= field_error;
    std::string out;
    append_trace_json(out, t);
    rapidjson::Document d;
    d.Parse(out.data(), out.size());
    REQUIRE_FALSE(d.HasParseError());
    CHECK(std::string(d["trace_id"].GetString()) == "0000000000000000000000003a7f1c2b");
    CHECK(d["complete"].GetBool());
    CHECK(d["span_count"].GetInt() == 3);
    CHECK(d["error_count"].GetInt() == 1);
    CHECK(d["duration_ms"].GetDouble() == doctest::Approx(142));
    CHECK_FALSE(d.HasMember("follow_up"));
    const auto& spans = d["spans"];
    CHECK(std::string(spans[0]["name"].GetString()) == "s1");
    CHECK(spans[0]["depth"].GetInt() == 0);
    CHECK(std::string(spans[1]["name"].GetString()) == "s2");
    CHECK(spans[1]["depth"].GetInt() == 1);
    CHECK(std::string(spans[2]["error"].GetString()) == "timeout");
  }

  TEST_CASE("open spans and traces write null end times") {
    Trace t;
    t.trace_id = *parse_trace_id("1");
    t.spans = {make_span(1, 0, 0, -1)};
    std::string out;
    append_trace_json(out, t);
    CHECK(out.find(R"("ended_at":null,"duration_ms":null)") != std::string::npos);
  }

  TEST_CASE("a decoded span encodes and decodes back to the same fields") {
    const std::string line =
        R"({"type":"span","trace_id":"3a7f1c2b","span_id":"2","parent_id":"1","run_id":"r","name":"n\u00e9",)"
        R"("kind":"TOOL","started_at":1732500000.25,"ended_at":1732500000.5,"inputs":{"a":[1,2.5e3]},)"
        R"("outputs":{"b":null},"error":"e\n","metadata":{"m":{}}})";
    Event first;
    REQUIRE(decode(line, &first).ok);
    std::string encoded = R"({"type":"span",)";
    std::string span_json;
    append_span_json(span_json, first.span);
    encoded += span_json.substr(1);
    Event second;
    REQUIRE(decode(encoded, &second).ok);
    CHECK(second.span.trace_id == first.span.trace_id);
    CHECK(second.span.span_id == first.span.span_id);
    CHECK(second.span.parent_id == first.span.parent_id);
    CHECK(second.span.name == first.span.name);
    CHECK(second.span.kind == first.span.kind);
    CHECK(second.span.started_at_ns == first.span.started_at_ns);
    CHECK(second.span.ended_at_ns == first.span.ended_at_ns);
    CHECK(second.span.inputs == first.span.inputs);
    CHECK(second.span.outputs == first.span.outputs);
    CHECK(second.span.error == first.span.error);
    CHECK(second.span.metadata == first.span.metadata);
  }
}
