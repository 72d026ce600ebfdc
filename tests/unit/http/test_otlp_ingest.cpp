#include <doctest/doctest.h>

#include "daemon/http/otlp_ingest.hpp"

using namespace tracecol;
using http::check_otlp_headers;

TEST_SUITE("http otlp") {
  TEST_CASE("accepts application/json with a charset, plain or gzip encoded") {
    bool gzip = true;
    CHECK_FALSE(check_otlp_headers("application/json", "", gzip));
    CHECK_FALSE(gzip);
    CHECK_FALSE(check_otlp_headers("Application/JSON; charset=utf-8", "identity", gzip));
    CHECK_FALSE(check_otlp_headers("application/json", "gzip", gzip));
    CHECK(gzip);
  }

  TEST_CASE("refuses protobuf, other media types and other encodings with 415") {
    bool gzip = false;
    auto pb = check_otlp_headers("application/x-protobuf", "", gzip);
    REQUIRE(pb);
    CHECK(pb->status == 415);
    CHECK(pb->body.find("only JSON (application/json) is supported") != std::string::npos);
    for (const char* type : {"", "text/plain", "application/jsonx", "application/x-ndjson"}) {
      CAPTURE(type);
      auto r = check_otlp_headers(type, "", gzip);
      REQUIRE(r);
      CHECK(r->status == 415);
    }
    auto br = check_otlp_headers("application/json", "br", gzip);
    REQUIRE(br);
    CHECK(br->status == 415);
  }

  TEST_CASE("answers {} when nothing was rejected and partialSuccess otherwise") {
    protocol::OtlpDecodeResult decoded;
    decoded.spans.resize(3);
    auto batch = http::otlp_batch(decoded);
    REQUIRE(batch.events.size() == 3);
    CHECK(batch.events[0].type == protocol::EventType::span);
    CHECK(http::otlp_response(decoded, {}).body == "{}");

    decoded.rejected = 1;
    decoded.first_error = "span 2: bad \"spanId\"";
    const std::vector<ingest::AppliedRejection> applied{{0, protocol::RejectReason::too_many_spans}};
    auto r = http::otlp_response(decoded, applied);
    CHECK(r.status == 200);
    CHECK(r.body == R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"span 2: bad \"spanId\""}})");

    protocol::OtlpDecodeResult clean;
    CHECK(http::otlp_response(clean, applied).body ==
          R"({"partialSuccess":{"rejectedSpans":"1","errorMessage":"too_many_spans"}})");
  }
}
