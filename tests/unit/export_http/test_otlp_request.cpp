// The OTLP body the exporter POSTs: byte-exact against a golden request, and checked
// against the OTLP JSON encoding rules key by key.
#include <doctest/doctest.h>

#include <set>
#include <rapidjson/document.h>

#include <cctype>
#include <fstream>
#include <limits>

#include "protocol/otlp_encoder.hpp"
#include "tests/unit/export_http/export_http_test_support.hpp"

namespace tp = tracecol::protocol;
namespace eh = tracecol::exporters::http;
using namespace eh::testing;
using tracecol::integration::HttpReceiver;

namespace {

std::string golden_file() {
  const char* dir = std::getenv("TRACECOL_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/tests/unit/export_http/golden/batch_request.json";
}

bool lower_camel(const std::string& key) {
  if (key.empty() || !std::islower(static_cast<unsigned char>(key[0]))) return false;
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

bool hex_of(const rapidjson::Value& v, std::size_t length) {
  if (!v.IsString() || v.GetStringLength() != length) return false;
  for (const char* p = v.GetString(); *p; ++p)
    if (!std::isxdigit(static_cast<unsigned char>(*p)) || std::isupper(static_cast<unsigned char>(*p))) return false;
  return true;
}

bool digits(const rapidjson::Value& v) {
  if (!v.IsString() || v.GetStringLength() == 0) return false;
  for (const char* p = v.GetString(); *p; ++p)
    if (!std::isdigit(static_cast<unsigned char>(*p))) return false;
  return true;
}

/** Every object key anywhere is lowerCamelCase (attribute keys are values, not keys). */
void check_keys(const rapidjson::Value& v) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      CHECK_MESSAGE(lower_camel(m.name.GetString()), m.name.GetString());
      check_keys(m.value);
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) check_keys(e);
  }
}

struct Posted {
  std::string body;
  std::string content_type;
  std::string authorization;
  std::size_t requests = 0;
};

/** Two traces through the real exporter (batch of 2: one request); what the receiver got. */
Posted post_two(HttpReceiver& r) {
  auto o = options_for(r);
  o.max_batch_traces = 2;
  o.service_name = "tracecol-test";
  o.headers = {{"Authorization", "Bearer s3cret"}};
  auto e = make_exporter(o);
  const tp::Trace a = numbered_trace(0);
  const tp::Trace b = numbered_trace(1);
  CHECK(e->export_trace(a) == tracecol::exporters::ExportStatus::ok);
  CHECK(e->export_trace(b) == tracecol::exporters::ExportStatus::ok);
  REQUIRE(eventually([&] { return e->stats().traces_sent == 2; }));
  const auto got = r.requests();
  REQUIRE(!got.empty());
  Posted p;
  p.requests = got.size();
  p.body = got[0].body;
  p.content_type = got[0].headers.count("content-type") ? got[0].headers.at("content-type") : "";
  p.authorization = got[0].headers.count("authorization") ? got[0].headers.at("authorization") : "";
  return p;
}

}  // namespace

TEST_SUITE("export http otlp body") {
  TEST_CASE("head, per-trace span lists and tail make the same request as encoding the traces at once") {
    const tp::Trace a = numbered_trace(0);
    const tp::Trace b = numbered_trace(1);
    const tp::Trace* both[] = {&a, &b};
    std::string whole;
    tp::append_otlp_request(whole, std::span<const tp::Trace* const>(both), "svc");
    std::string pieces;
    tp::append_otlp_request_head(pieces, "svc");
    tp::append_otlp_spans(pieces, a);
    pieces += ',';
    tp::append_otlp_spans(pieces, b);
    tp::append_otlp_request_tail(pieces);
    CHECK(pieces == whole);
  }

  TEST_CASE("spans sized to their worst case encode within it, into a string or the exporter's ByteBuffer alike") {
    // Every string at its longest escaped form: controls (6 bytes each) in the name, run id
    // and error; JSON text dense with quotes in inputs and outputs; metadata of many short
    // members, escaped keys and values (re-escaped canonically), nested text and extreme
    // numbers; the peer at its widest. The encoder aborts if a span passes its bound.
    tp::Trace worst = numbered_trace(4);
    tp::Span& s = worst.spans[1];
    s.name = std::string(300, '\x01');
    s.run_id = std::string(100, '\x1f');
    s.fields |= tp::field_error;
    s.error = std::string(200, '\x02') + "\"\\";
    std::string quotes, empties;
    for (int i = 0; i < 500; ++i) quotes += "\\\"";
    for (int i = 0; i < 250; ++i) empties += std::string(i ? "," : "") + "\"\"";
    s.inputs = "{\"q\":\"" + quotes + "\",\"a\":[\"\",\"\",\"\"]}";
    s.outputs = "[" + empties + "]";
    std::string metadata = "{";
    for (int i = 0; i < 1000; ++i)
      metadata += std::string(i ? "," : "") + "\"\\u00" + (i % 2 ? "01" : "e9") + std::to_string(i) + "\":" +
                  (i % 4 == 0 ? "\"\\u0001\\\"\"" : i % 4 == 1 ? "[\"\",{\"\":\"\\\\\"}]" : i % 4 == 2 ? "-9223372036854775808" : "1e308");
    // Events as /v1/traces stores them, each as short as it gets: they go out as OTLP events.
    metadata += R"(,"events":[)";
    for (int i = 0; i < 500; ++i) metadata += std::string(i ? "," : "") + (i % 2 ? "{}" : R"({"attributes":{"":[0]}})");
    metadata += "]";
    s.metadata = metadata + "}";
    s.has_peer = true;
    s.peer_pid = std::numeric_limits<std::int32_t>::min();
    s.peer_uid = std::numeric_limits<std::uint32_t>::max();
    s.parent_id = ~0ull;
    s.started_at_ns = std::numeric_limits<std::int64_t>::min();
    s.ended_at_ns = std::numeric_limits<std::int64_t>::max();
    tp::Trace kinds = numbered_trace(5);
    for (std::size_t i = 0; i < kinds.spans.size(); ++i) kinds.spans[i].kind = static_cast<tp::SpanKind>(i % 6);
    tp::Trace empty;
    std::string as_string = "prefix";
    tp::ByteBuffer as_bytes(as_string.begin(), as_string.end());
    tp::append_otlp_request_head(as_string, "svc \x01");
    tp::append_otlp_request_head(as_bytes, "svc \x01");
    for (const tp::Trace* trace : std::initializer_list<const tp::Trace*>{&worst, &empty, &kinds}) {
      if (trace == &kinds) {  // traces are joined by ',' (an empty one appends nothing)
        as_string += ',';
        as_bytes.push_back(',');
      }
      tp::append_otlp_spans(as_string, *trace);
      tp::append_otlp_spans(as_bytes, *trace);
    }
    tp::append_otlp_request_tail(as_string);
    tp::append_otlp_request_tail(as_bytes);
    REQUIRE(as_bytes.size() == as_string.size());
    CHECK(std::string_view(as_bytes.data(), as_bytes.size()) == as_string);
    // Valid JSON whose strings read back as the span's.
    rapidjson::Document doc;
    doc.Parse(as_string.data() + 6, as_string.size() - 6);
    REQUIRE_FALSE(doc.HasParseError());
    const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
    REQUIRE(spans.Size() == worst.spans.size() + kinds.spans.size());
    const auto& w = spans[1];
    CHECK(std::string(w["name"].GetString(), w["name"].GetStringLength()) == s.name);
    CHECK(std::string(w["status"]["message"].GetString(), w["status"]["message"].GetStringLength()) == s.error);
    CHECK(std::string(w["startTimeUnixNano"].GetString()) == "-9223372036854775808");
    std::size_t metadata_attributes = 0;
    CHECK(w["events"].Size() == 500);
    const std::set<std::string> ours = {"openinference.span.kind", "tracecol.kind", "session.id", "input.value",
                                        "input.mime_type", "output.value", "output.mime_type"};
    for (const auto& kv : w["attributes"].GetArray()) {
      const std::string key = kv["key"].GetString();
      REQUIRE_FALSE(kv["value"].ObjectEmpty());
      const auto& value = *kv["value"].MemberBegin();
      if (key == "input.value") CHECK(std::string(value.value.GetString()) == s.inputs);
      if (key == "output.value") CHECK(std::string(value.value.GetString()) == s.outputs);
      if (key == "session.id") CHECK(std::string(value.value.GetString(), value.value.GetStringLength()) == s.run_id);
      if (key == "peer.pid") CHECK(std::string(value.value.GetString()) == "-2147483648");
      if (!ours.contains(key)) ++metadata_attributes;
    }
    CHECK(metadata_attributes == 1000 + 2);
  }

  TEST_CASE("the exporter posts exactly the golden request, as application/json with the configured headers") {
    HttpReceiver r;
    const auto p = post_two(r);
    CHECK(p.requests == 1);
    CHECK(p.content_type == "application/json");
    CHECK(p.authorization == "Bearer s3cret");
    if (std::getenv("TRACECOL_UPDATE_GOLDEN") != nullptr) std::ofstream(golden_file(), std::ios::binary) << p.body << '\n';
    std::string golden = tp::testing::read_file(golden_file());
    REQUIRE(!golden.empty());
    if (golden.back() == '\n') golden.pop_back();
    CHECK(p.body == golden);
  }

  TEST_CASE("the posted request follows the OTLP JSON rules: hex ids, nanos as strings, integer enums, lowerCamelCase") {
    HttpReceiver r;
    const auto p = post_two(r);
    rapidjson::Document doc;
    doc.Parse(p.body.data(), p.body.size());
    REQUIRE(!doc.HasParseError());
    check_keys(doc);
    const auto& rs = doc["resourceSpans"];
    REQUIRE(rs.Size() == 1);
    const auto& spans = rs[0]["scopeSpans"][0]["spans"];
    REQUIRE(spans.Size() == 6);
    int errors = 0;
    for (const auto& s : spans.GetArray()) {
      CHECK(hex_of(s["traceId"], 32));
      CHECK(hex_of(s["spanId"], 16));
      if (s.HasMember("parentSpanId")) CHECK(hex_of(s["parentSpanId"], 16));
      CHECK(digits(s["startTimeUnixNano"]));
      CHECK(digits(s["endTimeUnixNano"]));
      CHECK(s["kind"].IsInt());
      REQUIRE(s.HasMember("status"));
      CHECK(s["status"]["code"].IsInt());
      if (s["status"]["code"].GetInt() == 2) {
        ++errors;
        CHECK(s["status"]["message"].IsString());
      }
      for (const auto& kv : s["attributes"].GetArray()) {
        const auto& v = kv["value"];
        if (v.HasMember("intValue")) CHECK(digits(v["intValue"]));
      }
    }
    CHECK(errors == 2);  // the TOOL span of each trace
  }
}
