// One test per RapidJSON 1.1.0 hazard of STYLE.md: the decoder must be immune to each.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
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

  TEST_CASE("numbers kept in inputs stay as written unless no reader could read them back") {
    Event e;
    REQUIRE(decode(span_line(R"("inputs":{"x":1e-300,"y":-0.0e+0,"z":123456789012345678901234567890,"w":1.7976931348623157e308,"s":5e-324,"u":1e-999})"), &e).ok);
    CHECK(e.span.inputs == R"({"x":1e-300,"y":-0.0e+0,"z":123456789012345678901234567890,"w":1.7976931348623157e308,"s":5e-324,"u":1e-999})");
    // Re-emitted as is, these would crash (CVE-2024-38517), fail (1e309, 0e999) or turn
    // into inf (1.8e308) in the RapidJSON 1.1.0 that reads the NDJSON records back.
    for (const char* n : {"1e-99999999999999999999", "1e99999999999999999999", "1e309", "-1e309", "0e999",
                          "1.8e308", "0.001e310", "1e-1000"}) {
      INFO(n);
      CHECK(outcome(span_line(std::string(R"("inputs":{"x":[)") + n + "]}")) == "bad_field");
      CHECK(outcome(span_line(std::string(R"("metadata":{"x":)") + n + "}")) == "bad_field");
      CHECK(outcome(span_line(std::string(R"("outputs":{"x":)") + n + "}")) == "bad_field");
      // Dropped or unknown members are only validated: nothing of them is emitted.
      DecodeOptions no_inputs;
      no_inputs.include_inputs = false;
      CHECK(outcome(span_line(std::string(R"("inputs":{"x":)") + n + "}"), no_inputs) == "ok");
      CHECK(outcome(span_line(std::string(R"("extra":{"x":)") + n + "}")) == "ok");
    }
    CHECK(outcome(span_line(std::string(R"("inputs":{"x":1)") + std::string(309, '0') + "}")) == "bad_field");
    CHECK(outcome(span_line(std::string(R"("inputs":{"x":1)") + std::string(307, '0') + "}")) == "ok");
    // Still JSON first: a broken line after the number is invalid_json, not bad_field.
    CHECK(outcome(R"({"type":"span","trace_id":"1","span_id":"1","started_at":1732500000,"inputs":{"x":1e999},)") ==
          "invalid_json");
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

  TEST_CASE("mutated lines never misbehave, and accepted ones encode to JSON RapidJSON reads back") {
    const std::vector<std::string> seeds = {
        R"({"type":"span","trace_id":"3a7f1c2b","span_id":"1","parent_id":"2","name":"a\u00e9\"b","kind":"tool",)"
        R"("started_at":1732500000.5,"ended_at":1732500001,"inputs":{"a":[1,-2.5e3,true,false,null,{"b":"\ud83d\ude00"}],)"
        R"("token":"x"},"outputs":{"t":"é€😀"},"error":"boom","metadata":{"k":{"password":[1]}}})",
        R"({"type":"trace","trace_id":"ab","run_id":"r","spans":[{"span_id":"1","started_at":5,"name":"x"},)"
        R"({"span_id":"2","parent_id":"1","started_at":6,"ended_at":7.25}]})",
        R"({"type":"span_end","trace_id":"1","span_id":"1","ended_at":1732500000.0,"outputs":null})",
        R"({"type":"hello","version":1,"client":"c","service":"s"})",
    };
    constexpr char bytes[] = "{}[],:\"\\ u0123456789eE+-.tfn\x01\x7f\x80\xbf\xc0\xc2\xe0\xed\xf0\xf4\xff";
    std::mt19937_64 rng(42);  // fixed seed: the same lines on every run
    DecodeOptions options;
    options.redact_keys = default_redact_keys();
    Decoder decoder(options);
    std::size_t accepted = 0;
    for (int i = 0; i < 20000; ++i) {
      std::string line = seeds[rng() % seeds.size()];
      for (int m = 1 + static_cast<int>(rng() % 4); m > 0 && !line.empty(); --m) {
        const std::size_t at = rng() % line.size();
        switch (rng() % 5) {
          case 0: line[at] = bytes[rng() % (sizeof bytes - 1)]; break;
          case 1: line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), bytes[rng() % (sizeof bytes - 1)]); break;
          case 2: line.erase(at, 1 + rng() % 3); break;
          case 3: line.insert(at, line.substr(rng() % line.size(), 1 + rng() % 12)); break;
          default: line.resize(at); break;
        }
      }
      const std::vector<char> exact(line.begin(), line.end());  // ASan: no byte past the line is readable
      Event e;
      const DecodeResult r = decoder.decode(std::string_view(exact.data(), exact.size()), e);
      REQUIRE(r.offset <= line.size());
      if (!r.ok) continue;
      ++accepted;
      Trace t;
      t.trace_id = e.type == EventType::trace ? e.trace_id : e.span.trace_id;
      if (e.type == EventType::trace) t.spans = e.spans;
      else if (e.is_data()) t.spans.push_back(e.span);
      std::string out;
      append_trace_json(out, t);
      rapidjson::Document d;
      d.Parse<rapidjson::kParseValidateEncodingFlag>(out.data(), out.size());
      INFO(line);
      REQUIRE_FALSE(d.HasParseError());
    }
    CHECK(accepted > 100);  // the mutations reach the encoder, not only the rejections
  }
}
