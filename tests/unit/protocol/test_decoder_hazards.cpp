// One test per RapidJSON 1.1.0 hazard of STYLE.md: the decoder must be immune to each.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "protocol/encoder.hpp"
#include "protocol/trace_tree.hpp"
#include "test_support.hpp"

using namespace tracecol::protocol;
using namespace tracecol::protocol::testing;

TEST_SUITE("decoder hazards") {
  TEST_CASE("huge exponents in times are rejected, never converted (CVE-2024-38517)") {
    CHECK(outcome(span_line(R"("ended_at":1e-99999999999999999999)")) == "bad_time");
    CHECK(outcome(span_line(R"("ended_at":1e99999999999999999999)")) == "bad_time");
    CHECK(outcome(span_line(R"("ended_at":-1e-2147483649)")) == "bad_time");
  }

  TEST_CASE("huge exponents inside inputs are kept verbatim as text") {
    Event e;
    REQUIRE(decode(span_line(R"("inputs":{"x":1e-99999999999999999999,"y":-0.0e+0})"), &e).ok);
    CHECK(e.span.inputs == R"({"x":1e-99999999999999999999,"y":-0.0e+0})");
  }

  TEST_CASE("deep nesting is refused at the depth limit without recursion") {
    std::string deep = span_line(R"("inputs":{"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}");
    CHECK(outcome(deep) == "too_deep");
    CHECK(outcome(std::string(1 << 20, '[')) == "too_deep");
    std::string ok_depth = span_line(R"("inputs":{"a":)" + std::string(60, '[') + std::string(60, ']') + "}");
    CHECK(outcome(ok_depth) == "ok");
    DecodeOptions shallow;
    shallow.max_depth = 4;
    CHECK(outcome(span_line(R"("inputs":{"a":{"b":{"c":{}}}})"), shallow) == "too_deep");
  }

  TEST_CASE("never reads past the given length: no NUL terminator is needed") {
    // A heap buffer with the line, then bytes that would change the answer if read.
    const std::string line = span_line();
    for (std::size_t cut : {line.size(), line.size() - 1, std::size_t{10}, std::size_t{1}}) {
      char* buf = static_cast<char*>(std::malloc(cut));
      std::memcpy(buf, line.data(), cut);
      Decoder d;
      Event e;
      auto r = d.decode(std::string_view(buf, cut), e);  // ASan flags any read past buf + cut
      CHECK(r.ok == (cut == line.size()));
      std::free(buf);
    }
  }

  TEST_CASE("never reads past the given length inside a larger buffer either") {
    const std::string line = span_line(R"("name":"abc")");
    // The view ends before bytes that would complete (or break) the line if read.
    std::string buffer = line.substr(0, line.size() - 1) + R"(,"x":1})" + "garbage";
    Decoder d;
    Event e;
    CHECK(d.decode(std::string_view(buffer.data(), line.size() - 1), e).reason == RejectReason::invalid_json);
    buffer = line + "\xff\x00{";
    CHECK(d.decode(std::string_view(buffer.data(), line.size()), e).ok);
    // Cut inside a string, an escape and a UTF-8 sequence: each must stop at the end.
    for (const std::string& cut : {std::string(R"({"type":"span","name":"ab)"), std::string(R"({"type":"span","name":"\u00)"),
                                   std::string("{\"type\":\"span\",\"name\":\"\xe2\x82")}) {
      std::string padded = cut + "\xac\"}";
      auto r = d.decode(std::string_view(padded.data(), cut.size()), e);
      CHECK_FALSE(r.ok);
      CHECK(r.offset <= cut.size());
    }
  }

  TEST_CASE("escaped lone surrogates are invalid UTF-8, paired ones decode") {
    CHECK(outcome(span_line(R"("name":"\udc00")")) == "invalid_utf8");
    CHECK(outcome(span_line(R"("name":"\ud800x")")) == "invalid_utf8");
    CHECK(outcome(span_line(R"("name":"\ud800\u0041")")) == "invalid_utf8");
    CHECK(outcome(span_line(R"("name":"\ud800")")) == "invalid_utf8");
    CHECK(outcome(span_line(R"("inputs":{"k":"\udfff"})")) == "invalid_utf8");
    CHECK(outcome(span_line(R"("name":"\ud83d\ude00")")) == "ok");
  }

  TEST_CASE("invalid UTF-8 is rejected wherever it appears in a string") {
    for (const char* bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff", "\x80"}) {
      CHECK(outcome(span_line(std::string(R"("name":")") + bad + "\"")) == "invalid_utf8");
      CHECK(outcome(span_line(std::string(R"("metadata":{")") + bad + "\":1}")) == "invalid_utf8");
    }
    CHECK(outcome(span_line("\"name\":\"\xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xa9\"")) == "ok");
  }

  TEST_CASE("duplicate keys are refused at every depth, also when escaped differently") {
    CHECK(outcome(R"({"type":"span","type":"span","trace_id":"1","span_id":"1","started_at":1732500000})") == "duplicate_key");
    CHECK(outcome(span_line(R"("inputs":{"a":{"b":1,"b":2}})")) == "duplicate_key");
    CHECK(outcome(span_line(R"("metadata":{"k":1,"\u006b":2})")) == "duplicate_key");
    CHECK(outcome(span_line(R"("inputs":{"a":{"b":1},"c":{"b":2}})")) == "ok");
    CHECK(outcome(span_line(R"("inputs":{"a":[{"b":1,"b":2}]})")) == "duplicate_key");
    CHECK(outcome(span_line(R"("trace_id":"2")")) == "duplicate_key");
    CHECK(outcome(span_line(R"("tr\u0061ce_id":"2")")) == "duplicate_key");
  }

  TEST_CASE("an object with 100k distinct keys is checked in O(k log k)") {
    std::string obj = "{";
    for (int i = 0; i < 100000; ++i) obj += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
    CHECK(outcome(span_line(R"("inputs":)" + obj + "}")) == "ok");
    CHECK(outcome(span_line(R"("inputs":)" + obj + R"(,"k77":2})")) == "duplicate_key");
  }

  TEST_CASE("encoder output of extreme values is always valid JSON (no inf, no raw controls)") {
    Span s;
    s.trace_id = *parse_trace_id("ffffffffffffffffffffffffffffffff");
    s.span_id = ~0ULL;
    s.started_at_ns = 1;
    s.ended_at_ns = 9'200'000'000'000'000'000LL;
    s.name = std::string("\x00\x01\x1f\"\\\x7f", 6);
    s.error = "\n";
    s.fields = field_error;
    std::string out;
    append_span_json(out, s, 3);
    rapidjson::Document d;
    d.Parse(out.data(), out.size());
    CHECK_FALSE(d.HasParseError());
    CHECK(d["name"].GetStringLength() == 6);
    CHECK(d["duration_ms"].IsNumber());

    // Times no decoder would produce: the difference overflows int64, yet stays a number.
    Trace t;
    t.trace_id = s.trace_id;
    s.started_at_ns = INT64_MIN;
    s.ended_at_ns = INT64_MAX;
    t.spans.push_back(s);
    s.span_id = 1;
    s.parent_id = 2;
    s.started_at_ns = INT64_MAX;
    s.ended_at_ns = INT64_MIN;
    t.spans.push_back(s);
    out.clear();
    append_trace_json(out, t);
    d.Parse(out.data(), out.size());
    REQUIRE_FALSE(d.HasParseError());
    CHECK(d["duration_ms"].IsNumber());
    CHECK(d["spans"][0]["duration_ms"].IsNumber());
    CHECK(d["spans"][1]["duration_ms"].IsNumber());
    CHECK(d["spans"][0]["started_at"].IsNumber());
    CHECK(as_tree(t).find("inf") == std::string::npos);
  }

  TEST_CASE("every corpus line is rejected with its listed reason") {
    const char* root = std::getenv("TRACECOL_SOURCE_DIR");
    REQUIRE(root != nullptr);
    const std::filesystem::path dir = std::filesystem::path(root) / "tests" / "corpus";
    std::ifstream readme(dir / "README.md");
    REQUIRE(readme.good());
    std::map<std::string, std::string> expected;
    for (std::string row; std::getline(readme, row);) {
      if (row.rfind("| ", 0) != 0 || row.find("| file") == 0) continue;
      std::istringstream cells(row);
      std::string bar, file, reason;
      cells >> bar >> file >> bar >> reason;
      expected[file] = reason;
    }
    REQUIRE(expected.size() >= 25);
    for (const auto& [file, reason] : expected) {
      std::ifstream in(dir / file, std::ios::binary);
      REQUIRE(in.good());
      std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      INFO("corpus file " << file);
      CHECK(outcome(line) == reason);
    }
  }
}
