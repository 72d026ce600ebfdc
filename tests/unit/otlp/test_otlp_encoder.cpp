#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <memory>
#include <vector>

#include "protocol/otlp_encoder.hpp"
#include "tests/unit/otlp/otlp_test_support.hpp"

namespace tp = tracecol::protocol;
using tracecol::protocol::testing::golden_path;
using tracecol::protocol::testing::golden_trace;
using tracecol::protocol::testing::read_file;

namespace {

std::string encode_golden() {
  const tp::Trace trace = golden_trace();
  const tp::Trace* traces[] = {&trace};
  std::string out;
  tp::append_otlp_request(out, std::span<const tp::Trace* const>(traces), "tracecol-test");
  return out;
}

std::string attribute(const rapidjson::Value& span, const char* key) {
  for (const auto& kv : span["attributes"].GetArray())
    if (std::string(kv["key"].GetString()) == key) {
      if (kv["value"].ObjectEmpty()) return "empty";
      const auto& v = *kv["value"].MemberBegin();
      return std::string(v.name.GetString()) + "=" + (v.value.IsString() ? v.value.GetString() : v.value.IsBool() ? (v.value.GetBool() ? "true" : "false") : v.value.IsObject() ? "object" : "number");
    }
  return "";
}

}  // namespace

TEST_SUITE("otlp encoder") {
  TEST_CASE("encodes the fixed trace exactly as the golden request") {
    const std::string out = encode_golden();
    if (std::getenv("TRACECOL_UPDATE_GOLDEN") != nullptr) std::ofstream(golden_path(), std::ios::binary) << out << '\n';
    std::string golden = read_file(golden_path());
    REQUIRE(!golden.empty());
    if (golden.back() == '\n') golden.pop_back();
    CHECK(out == golden);
  }

  TEST_CASE("golden request follows the OTLP JSON encoding rules") {
    const std::string golden = read_file(golden_path());
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(golden.data(), golden.size());
    REQUIRE(!doc.HasParseError());
    const auto& rs = doc["resourceSpans"][0];
    CHECK(std::string(rs["resource"]["attributes"][0]["key"].GetString()) == "service.name");
    CHECK(std::string(rs["resource"]["attributes"][0]["value"]["stringValue"].GetString()) == "tracecol-test");
    const auto& ss = rs["scopeSpans"][0];
    CHECK(std::string(ss["scope"]["name"].GetString()) == "tracecol");
    const auto& spans = ss["spans"];
    REQUIRE(spans.Size() == 3);
    for (const auto& s : spans.GetArray()) {
      CHECK(s["traceId"].GetStringLength() == 32);
      CHECK(s["spanId"].GetStringLength() == 16);
      CHECK(s["startTimeUnixNano"].IsString());
      CHECK(s["endTimeUnixNano"].IsString());
      CHECK(s["kind"].IsInt());
      CHECK(s["kind"].GetInt() == 1);
      CHECK(s["status"]["code"].IsInt());
    }
    CHECK(std::string(spans[0]["traceId"].GetString()) == "0af7651916cd43dd8448eb211c80319c");
    CHECK(!spans[0].HasMember("parentSpanId"));
    CHECK(std::string(spans[1]["parentSpanId"].GetString()) == "b7ad6b7169203331");
    CHECK(std::string(spans[1]["spanId"].GetString()) == "00f067aa0ba902b7");
    CHECK(std::string(spans[1]["startTimeUnixNano"].GetString()) == "1732500000100000007");
    CHECK(spans[0]["status"]["code"].GetInt() == 1);
    CHECK(spans[2]["status"]["code"].GetInt() == 2);
    CHECK(std::string(spans[2]["status"]["message"].GetString()) == "timeout: 30s");
    CHECK(attribute(spans[0], "openinference.span.kind") == "stringValue=AGENT");
    CHECK(attribute(spans[1], "openinference.span.kind") == "stringValue=LLM");
    CHECK(attribute(spans[1], "input.mime_type") == "stringValue=application/json");
    CHECK(attribute(spans[1], "output.value") == "stringValue={\"text\":\"hello \\u00e9\"}");
    CHECK(attribute(spans[0], "input.value").empty());
    CHECK(attribute(spans[2], "session.id") == "stringValue=run-42");
    CHECK(attribute(spans[2], "attempt") == "intValue=3");
    CHECK(attribute(spans[2], "ratio") == "doubleValue=number");
    CHECK(attribute(spans[2], "ok") == "boolValue=false");
    CHECK(attribute(spans[2], "tags") == "arrayValue=object");
    CHECK(attribute(spans[2], "note") == "stringValue=caf\xc3\xa9 \xe2\x9c\x93");
    CHECK(attribute(spans[2], "nothing") == "empty");
  }

  TEST_CASE("maps TEAM to AGENT and CUSTOM to UNKNOWN but keeps the exact kind") {
    tp::Trace trace = golden_trace();
    trace.spans[0].kind = tp::SpanKind::team;
    trace.spans[1].kind = tp::SpanKind::custom;
    auto ptr = std::make_shared<const tp::Trace>(trace);
    std::vector<std::shared_ptr<const tp::Trace>> traces{ptr, nullptr};
    std::string out;
    tp::append_otlp_request(out, traces, "svc");
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(out.data(), out.size());
    REQUIRE(!doc.HasParseError());
    const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
    CHECK(attribute(spans[0], "openinference.span.kind") == "stringValue=AGENT");
    CHECK(attribute(spans[0], "tracecol.kind") == "stringValue=TEAM");
    CHECK(attribute(spans[1], "openinference.span.kind") == "stringValue=UNKNOWN");
    CHECK(attribute(spans[1], "tracecol.kind") == "stringValue=CUSTOM");
  }

  TEST_CASE("an exact OpenInference kind and the run id are not repeated") {
    // AGENT, LLM, TOOL name our kind alone: tracecol.kind would only repeat it; session.id
    // is the run id. Every byte here goes out per span.
    const std::string out = encode_golden();
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(out.data(), out.size());
    REQUIRE(!doc.HasParseError());
    const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
    REQUIRE(spans.Size() == 3);
    for (const auto& s : spans.GetArray()) {
      CHECK(attribute(s, "tracecol.kind").empty());
      CHECK(attribute(s, "tracecol.run_id").empty());
      CHECK(attribute(s, "session.id") == "stringValue=run-42");
    }
    CHECK(out.find("tracecol.") == std::string::npos);
  }

  TEST_CASE("an open span has no end time and no status") {
    tp::Trace trace = golden_trace();
    trace.spans.resize(1);
    trace.spans[0].ended_at_ns = 0;
    const tp::Trace* traces[] = {&trace};
    std::string out;
    tp::append_otlp_request(out, std::span<const tp::Trace* const>(traces), "svc");
    CHECK(out.find("endTimeUnixNano") == std::string::npos);
    CHECK(out.find("\"status\"") == std::string::npos);
  }

  TEST_CASE("times are written as to_chars writes them, around every digit count and sign") {
    std::vector<std::int64_t> times = {1, 9, 10, 999999999, 1000000000, 999999999999999999, 1000000000000000000,
                                       1000000000000000001, 1732500000123456789, 1999999999999999999,
                                       2000000000000000000, 9099999999999999999, std::numeric_limits<std::int64_t>::max(),
                                       -1, std::numeric_limits<std::int64_t>::min()};
    std::mt19937_64 rng(3);
    for (int i = 0; i < 2000; ++i) times.push_back(static_cast<std::int64_t>(rng() >> (rng() % 64)));
    tp::Trace trace = golden_trace();
    trace.spans.resize(1);
    for (const std::int64_t t : times) {
      trace.spans[0].started_at_ns = t;
      // 0 means open (no end time) to the encoder: that span ends at 1 instead.
      trace.spans[0].ended_at_ns = t == 0 ? 1 : t;
      const tp::Trace* traces[] = {&trace};
      std::string out;
      tp::append_otlp_request(out, std::span<const tp::Trace* const>(traces), "svc");
      rapidjson::Document doc;
      doc.Parse(out.data(), out.size());
      REQUIRE_FALSE(doc.HasParseError());
      const auto& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
      INFO("time " << t);
      CHECK(std::string(span["startTimeUnixNano"].GetString()) == std::to_string(t));
      CHECK(std::string(span["endTimeUnixNano"].GetString()) == std::to_string(trace.spans[0].ended_at_ns));
    }
  }

  TEST_CASE("no traces give a request with an empty span list") {
    std::string out;
    tp::append_otlp_request(out, std::span<const tp::Trace* const>(), "a\"b");
    CHECK(out == R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a\"b"}}]},"scopeSpans":[{"scope":{"name":"tracecol","version":"0.1.0"},"spans":[]}]}]})");
  }
}
