// The OTLP/HTTP protobuf body: read back field by field (field numbers from
// opentelemetry-proto), and attribute by attribute against the JSON encoding of the same
// traces, so both encodings say the same thing.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <cstring>
#include <map>
#include <variant>

#include "protocol/otlp_encoder.hpp"
#include "protocol/otlp_proto_encoder.hpp"
#include "tests/unit/export_http/export_http_test_support.hpp"
#include "tests/unit/otlp/proto_wire.hpp"

namespace tp = tracecol::protocol;
namespace eh = tracecol::exporters::http;
namespace pw = tracecol::testing::proto;
using namespace eh::testing;
using tracecol::integration::HttpReceiver;

namespace {

/** An array, kvlist or empty AnyValue, as plain JSON text (strings unescaped: test data has none to escape). */
struct Nested {
  std::string json;
  friend bool operator==(const Nested&, const Nested&) = default;
};

/** An attribute value as either encoding carries it. */
using Value = std::variant<std::string, std::int64_t, double, bool, Nested>;

/** A protobuf AnyValue (its content) as plain JSON text. */
std::string proto_plain(std::string_view any_bytes) {
  const auto any = pw::parse(any_bytes);
  REQUIRE(any);
  if (any->empty()) return "null";
  REQUIRE(any->size() == 1);
  const auto& v = any->front();
  switch (v.number) {
    case 1: return "\"" + std::string(v.bytes) + "\"";
    case 2: return v.number_value != 0 ? "true" : "false";
    case 3: return std::to_string(static_cast<std::int64_t>(v.number_value));
    case 4: {
      double d;
      std::memcpy(&d, &v.number_value, sizeof d);
      return std::to_string(d);
    }
    case 5:
    case 6: {
      const auto list = pw::parse(v.bytes);
      REQUIRE(list);
      std::string out = v.number == 5 ? "[" : "{";
      for (const auto& item : pw::all(*list, 1)) {
        if (out.size() > 1) out += ',';
        if (v.number == 5) {
          out += proto_plain(item.bytes);
          continue;
        }
        const auto kv = pw::parse(item.bytes);
        REQUIRE(kv);
        out += "\"" + std::string(pw::one(*kv, 1)->bytes) + "\":" + proto_plain(pw::one(*kv, 2)->bytes);
      }
      return out + (v.number == 5 ? "]" : "}");
    }
    default: FAIL("unexpected AnyValue field " << v.number);
  }
  return {};
}

/** A JSON AnyValue as plain JSON text, as proto_plain writes it. */
std::string json_plain(const rapidjson::Value& v) {
  if (v.ObjectEmpty()) return "null";
  if (v.HasMember("stringValue")) return "\"" + std::string(v["stringValue"].GetString()) + "\"";
  if (v.HasMember("boolValue")) return v["boolValue"].GetBool() ? "true" : "false";
  if (v.HasMember("intValue")) return v["intValue"].GetString();
  if (v.HasMember("doubleValue")) return std::to_string(v["doubleValue"].GetDouble());
  const bool array = v.HasMember("arrayValue");
  std::string out = array ? "[" : "{";
  for (const auto& item : (array ? v["arrayValue"] : v["kvlistValue"])["values"].GetArray()) {
    if (out.size() > 1) out += ',';
    if (array) out += json_plain(item);
    else out += "\"" + std::string(item["key"].GetString()) + "\":" + json_plain(item["value"]);
  }
  return out + (array ? "]" : "}");
}

std::uint64_t big_endian(std::string_view bytes) {
  std::uint64_t v = 0;
  for (const char c : bytes) v = v << 8 | static_cast<unsigned char>(c);
  return v;
}

/** key -> value of a protobuf span's attributes (KeyValue: key 1, value 2; AnyValue: 1 string, 2 bool, 3 int, 4 double). */
std::map<std::string, Value> proto_attributes(const std::vector<pw::Field>& span, std::uint32_t field_number) {
  std::map<std::string, Value> out;
  for (const auto& kv : pw::all(span, field_number)) {
    const auto f = pw::parse(kv.bytes);
    REQUIRE(f);
    const auto key = pw::one(*f, 1);
    const auto value = pw::one(*f, 2);
    REQUIRE(key);
    REQUIRE(value);
    const auto any = pw::parse(value->bytes);
    REQUIRE(any);
    if (any->size() != 1 || any->front().number == 5 || any->front().number == 6) {
      CHECK_MESSAGE(out.emplace(std::string(key->bytes), Nested{proto_plain(value->bytes)}).second, "duplicate attribute " << key->bytes);
      continue;
    }
    const auto& v = any->front();
    Value got;
    switch (v.number) {
      case 1: CHECK(v.wire_type == 2); got = std::string(v.bytes); break;
      case 2: CHECK(v.wire_type == 0); got = v.number_value != 0; break;
      case 3: CHECK(v.wire_type == 0); got = static_cast<std::int64_t>(v.number_value); break;
      case 4: {
        CHECK(v.wire_type == 1);
        double d;
        std::memcpy(&d, &v.number_value, sizeof d);
        got = d;
        break;
      }
      default: FAIL("unexpected AnyValue field " << v.number);
    }
    CHECK_MESSAGE(out.emplace(std::string(key->bytes), got).second, "duplicate attribute " << key->bytes);
  }
  return out;
}

/** The same from a JSON-encoded span's "attributes". */
std::map<std::string, Value> json_attributes(const rapidjson::Value& span) {
  std::map<std::string, Value> out;
  for (const auto& kv : span["attributes"].GetArray()) {
    const auto& v = kv["value"];
    Value got;
    if (v.HasMember("stringValue")) got = std::string(v["stringValue"].GetString(), v["stringValue"].GetStringLength());
    else if (v.HasMember("intValue")) got = static_cast<std::int64_t>(std::stoll(v["intValue"].GetString()));
    else if (v.HasMember("doubleValue")) got = v["doubleValue"].GetDouble();
    else if (v.HasMember("boolValue")) got = v["boolValue"].GetBool();
    else got = Nested{json_plain(v)};
    out.emplace(kv["key"].GetString(), got);
  }
  return out;
}

/** Every trace's traces; a peer on the TOOL span and a hostile metadata key on the LLM span. */
std::vector<tp::Trace> sample_traces() {
  std::vector<tp::Trace> traces = {numbered_trace(0), numbered_trace(1)};
  for (auto& t : traces) {
    t.spans[2].has_peer = true;
    t.spans[2].peer_pid = 4242;
    t.spans[2].peer_uid = 1000;
    t.spans[1].metadata = R"({"k\"ey":"v\u00e9\n","neg":-7,"big":9223372036854775807,"huge":1e300,"o":{"a":[1,"}"]}})";
    t.spans[1].fields |= tp::field_metadata;
  }
  return traces;
}

}  // namespace

TEST_SUITE("export http otlp protobuf body") {
  TEST_CASE("each span reads back field by field, and its attributes equal the JSON encoding's") {
    const auto traces = sample_traces();
    std::vector<const tp::Trace*> ptrs;
    for (const auto& t : traces) ptrs.push_back(&t);
    std::string proto;
    tp::append_otlp_proto_request(proto, ptrs, "svc \"x\"");
    std::string json;
    tp::append_otlp_request(json, std::span<const tp::Trace* const>(ptrs), "svc \"x\"");
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    REQUIRE(!doc.HasParseError());
    const auto& json_spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];

    const auto request = pw::parse(proto);
    REQUIRE(request);
    const auto resource_spans = pw::all(*request, 1);
    REQUIRE(resource_spans.size() == traces.size());  // one per trace
    rapidjson::SizeType j = 0;
    for (std::size_t t = 0; t < traces.size(); ++t) {
      const auto rs = pw::parse(resource_spans[t].bytes);
      REQUIRE(rs);
      const auto resource = pw::parse(pw::one(*rs, 1)->bytes);
      REQUIRE(resource);
      const auto resource_attrs = proto_attributes(*resource, 1);
      CHECK(resource_attrs.size() == 1);
      CHECK(std::get<std::string>(resource_attrs.at("service.name")) == "svc \"x\"");
      const auto scope_spans = pw::all(*rs, 2);
      REQUIRE(scope_spans.size() == 1);
      const auto ss = pw::parse(scope_spans[0].bytes);
      REQUIRE(ss);
      const auto scope = pw::parse(pw::one(*ss, 1)->bytes);
      REQUIRE(scope);
      CHECK(pw::one(*scope, 1)->bytes == tp::otlp_scope_name);
      CHECK(pw::one(*scope, 2)->bytes == tp::otlp_scope_version);
      const auto spans = pw::all(*ss, 2);
      REQUIRE(spans.size() == traces[t].spans.size());
      for (std::size_t i = 0; i < spans.size(); ++i, ++j) {
        const tp::Span& want = traces[t].spans[i];
        CAPTURE(want.name);
        const auto s = pw::parse(spans[i].bytes);
        REQUIRE(s);
        const auto trace_id = pw::one(*s, 1);
        REQUIRE(trace_id);
        REQUIRE(trace_id->bytes.size() == 16);
        CHECK(big_endian(trace_id->bytes.substr(0, 8)) == want.trace_id.hi);
        CHECK(big_endian(trace_id->bytes.substr(8)) == want.trace_id.lo);
        REQUIRE(pw::one(*s, 2)->bytes.size() == 8);
        CHECK(big_endian(pw::one(*s, 2)->bytes) == want.span_id);
        if (want.parent_id == 0) CHECK(!pw::one(*s, 4));
        else CHECK(big_endian(pw::one(*s, 4)->bytes) == want.parent_id);
        CHECK(pw::one(*s, 5)->bytes == want.name);
        CHECK(pw::one(*s, 6)->number_value == 1);  // SPAN_KIND_INTERNAL, as the JSON says
        CHECK(pw::one(*s, 7)->wire_type == 1);     // fixed64
        CHECK(pw::one(*s, 7)->number_value == static_cast<std::uint64_t>(want.started_at_ns));
        CHECK(pw::one(*s, 8)->number_value == static_cast<std::uint64_t>(want.ended_at_ns));
        const auto status = pw::parse(pw::one(*s, 15)->bytes);
        REQUIRE(status);
        const auto& js = json_spans[j];
        CHECK(pw::one(*status, 3)->number_value == static_cast<std::uint64_t>(js["status"]["code"].GetInt()));
        if (want.has_error()) CHECK(pw::one(*status, 2)->bytes == want.error);
        else CHECK(!pw::one(*status, 2));
        CHECK(proto_attributes(*s, 9) == json_attributes(js));
      }
    }
    CHECK(j == json_spans.Size());
  }

  TEST_CASE("metadata values are decoded text and typed numbers, and JSON text stays text") {
    const auto traces = sample_traces();
    std::string proto;
    tp::append_otlp_proto_resource_spans(proto, traces[0], "svc");
    const auto rs = pw::parse(pw::one(*pw::parse(proto), 1)->bytes);
    const auto ss = pw::parse(pw::all(*rs, 2)[0].bytes);
    const auto llm = pw::parse(pw::all(*ss, 2)[1].bytes);
    REQUIRE(llm);
    const auto a = proto_attributes(*llm, 9);
    CHECK(std::get<std::string>(a.at("k\"ey")) == "v\xc3\xa9\n");
    CHECK(std::get<std::int64_t>(a.at("neg")) == -7);
    CHECK(std::get<std::int64_t>(a.at("big")) == 9223372036854775807LL);
    CHECK(std::get<double>(a.at("huge")) == 1e300);
    CHECK(std::get<Nested>(a.at("o")).json == R"({"a":[1,"}"]})");
    CHECK(std::get<std::string>(a.at("input.value")) == traces[0].spans[1].inputs);  // raw JSON text, no escapes
    CHECK(std::get<std::string>(a.at("input.mime_type")) == "application/json");
    const auto tool = pw::parse(pw::all(*ss, 2)[2].bytes);
    const auto b = proto_attributes(*tool, 9);
    CHECK(std::get<std::int64_t>(b.at("peer.pid")) == 4242);
    CHECK(std::get<std::int64_t>(b.at("peer.uid")) == 1000);
    CHECK(std::get<Nested>(b.at("tags")).json == R"(["a","b"])");
    CHECK(std::get<Nested>(b.at("nothing")).json == "null");
    CHECK(std::get<bool>(b.at("ok")) == false);
  }

  TEST_CASE("lengths are exact whatever their size: a 1-byte span, a 3-byte span, a trace over 2 MiB") {
    tp::Trace t = numbered_trace(0);
    t.spans.resize(1);
    t.spans[0].name = "x";
    t.spans[0].run_id.clear();
    t.spans[0].ended_at_ns = 0;  // open: no end time, no status
    tp::Trace big = numbered_trace(1);
    big.spans[1].outputs = "\"" + std::string(3 << 20, 'y') + "\"";  // a span needing a 4-byte length
    for (const tp::Trace* trace : {&t, &big}) {
      std::string proto;
      tp::append_otlp_proto_resource_spans(proto, *trace, "svc");
      CHECK(pw::count_spans(proto) == trace->spans.size());
      const auto top = pw::parse(proto);
      REQUIRE(top);
      CHECK(top->size() == 1);
    }
    std::string tiny;
    tp::append_otlp_proto_resource_spans(tiny, t, "svc");
    const auto span = pw::parse(pw::all(*pw::parse(pw::one(*pw::parse(tiny), 1)->bytes), 2)[0].bytes);
    const auto s = pw::parse(pw::all(*span, 2)[0].bytes);
    REQUIRE(s);
    CHECK(!pw::one(*s, 8));   // open: no end
    CHECK(!pw::one(*s, 15));  // and no status (UNSET)
    // The worst case of the space reserved per span: many one-byte members that each grow
    // (a negative integer becomes a 10-byte varint, a short number an 8-byte double).
    tp::Trace dense = numbered_trace(2);
    std::string metadata = "{";
    for (int i = 0; i < 2000; ++i) metadata += std::string(i ? "," : "") + "\"" + std::to_string(i) + "\":" + (i % 2 ? "-1" : "1e0");
    dense.spans[0].metadata = metadata + "}";
    dense.spans[0].has_peer = true;
    dense.spans[0].peer_pid = -1;
    dense.spans[0].peer_uid = 4294967295u;
    std::string dense_proto;
    tp::append_otlp_proto_resource_spans(dense_proto, dense, "svc");
    CHECK(pw::count_spans(dense_proto) == dense.spans.size());
    const auto dense_span = pw::parse(pw::all(*pw::parse(pw::one(*pw::parse(dense_proto), 1)->bytes), 2)[0].bytes);
    const auto dense_attrs = proto_attributes(*pw::parse(pw::all(*dense_span, 2)[0].bytes), 9);
    CHECK(std::get<std::int64_t>(dense_attrs.at("1999")) == -1);
    CHECK(std::get<double>(dense_attrs.at("0")) == 1.0);
    CHECK(std::get<std::int64_t>(dense_attrs.at("peer.pid")) == -1);
    tp::Trace empty;
    std::string none;
    tp::append_otlp_proto_resource_spans(none, empty, "svc");
    CHECK(none.empty());

    // The exporter's ByteBuffer (no zero-fill) gets the same bytes as a string, appended
    // after earlier traces as in a batch, for every case above, every kind and an error.
    tp::Trace kinds = numbered_trace(3);
    for (std::size_t i = 0; i < kinds.spans.size(); ++i) kinds.spans[i].kind = static_cast<tp::SpanKind>(i % 6);
    kinds.spans[0].fields |= tp::field_error;
    kinds.spans[0].error = "boom";
    std::string as_string;
    tp::ByteBuffer as_bytes;
    for (const tp::Trace* trace : {&t, &big, &dense, &empty, &kinds}) {
      tp::append_otlp_proto_resource_spans(as_string, *trace, "svc");
      tp::append_otlp_proto_resource_spans(as_bytes, *trace, "svc");
      REQUIRE(as_bytes.size() == as_string.size());
      CHECK(std::string_view(as_bytes.data(), as_bytes.size()) == as_string);
    }
    // The kind attributes are copied from bytes encoded once per kind: each kind's own.
    std::string kinds_proto;
    tp::append_otlp_proto_resource_spans(kinds_proto, kinds, "svc");
    const auto kind_spans = pw::all(*pw::parse(pw::one(*pw::parse(pw::one(*pw::parse(kinds_proto), 1)->bytes), 2)->bytes), 2);
    REQUIRE(kind_spans.size() == kinds.spans.size());
    for (std::size_t i = 0; i < kind_spans.size(); ++i) {
      const auto attrs = proto_attributes(*pw::parse(kind_spans[i].bytes), 9);
      if (tp::openinference_kind_is_exact(kinds.spans[i].kind)) CHECK(attrs.count("tracecol.kind") == 0);
      else CHECK(std::get<std::string>(attrs.at("tracecol.kind")) == tp::to_string(kinds.spans[i].kind));
      CHECK(attrs.count("tracecol.run_id") == 0);
      CHECK(std::get<std::string>(attrs.at("openinference.span.kind")) == tp::openinference_kind(kinds.spans[i].kind));
    }
  }

  TEST_CASE("the exporter posts protobuf as application/x-protobuf, every trace once") {
    HttpReceiver r;
    auto o = options_for(r);
    o.format = eh::Format::otlp_proto;
    o.max_batch_traces = 2;
    auto e = make_exporter(o);
    for (const auto& t : sample_traces()) CHECK(e->export_trace(t) == tracecol::exporters::ExportStatus::ok);
    REQUIRE(eventually([&] { return e->stats().traces_sent == 2; }));
    const auto got = r.requests();
    REQUIRE(got.size() == 1);
    CHECK(got[0].headers.at("content-type") == "application/x-protobuf");
    CHECK(pw::count_spans(got[0].body) == 6);
    const auto request = pw::parse(got[0].body);
    REQUIRE(request);
    CHECK(pw::all(*request, 1).size() == 2);
    CHECK(e->stats().latency.count == 2);  // a delivery latency sample per trace
  }
}
