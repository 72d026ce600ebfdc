// A 2xx answer's OTLP partialSuccess, read from a receiver's (untrusted) body.
#include <doctest/doctest.h>

#include <string>

#include "daemon/export/http/partial_success.hpp"

using tracecol::exporters::http::read_partial_success;

TEST_SUITE("export http partial success") {
  TEST_CASE("reads rejectedSpans as a string or a number, and the printable part of the message") {
    auto p = read_partial_success(R"({"partialSuccess":{"rejectedSpans":"3","errorMessage":"nope\u001b[31m"}})", false);
    REQUIRE(p);
    CHECK(p->rejected_spans == 3);
    CHECK(p->message == "nope?[31m");
    p = read_partial_success(R"({"partialSuccess":{"rejectedSpans":18446744073709551615}})", false);
    REQUIRE(p);
    CHECK(p->rejected_spans == 18446744073709551615ull);
    CHECK(p->message.empty());
  }

  TEST_CASE("says nothing for bodies that reject nothing or are not what they should be") {
    for (const char* body : {"", "{}", R"({"partialSuccess":{}})", R"({"partialSuccess":{"rejectedSpans":"0"}})",
                             R"({"partialSuccess":{"rejectedSpans":"-1"}})", R"({"partialSuccess":{"rejectedSpans":"1e3"}})",
                             R"({"partialSuccess":{"rejectedSpans":[1]}})", R"({"partialSuccess":5})", "[", "\xff",
                             R"({"partialSuccess":{"rejectedSpans":"99999999999999999999999"}})"}) {
      CAPTURE(body);
      CHECK_FALSE(read_partial_success(body, false));
    }
  }

  TEST_CASE("reads the protobuf ExportTraceServiceResponse and survives truncated ones") {
    // partial_success (1) { rejected_spans (1) = 300, error_message (2) = "bad" }
    const std::string message = std::string("\x08\xac\x02\x12\x03") + "bad";
    const std::string body = std::string("\x0a") + static_cast<char>(message.size()) + message;
    auto p = read_partial_success(body, true);
    REQUIRE(p);
    CHECK(p->rejected_spans == 300);
    CHECK(p->message == "bad");
    for (std::size_t cut = 0; cut < body.size(); ++cut) {
      CAPTURE(cut);
      CHECK_FALSE(read_partial_success(body.substr(0, cut), true));
    }
    CHECK_FALSE(read_partial_success(std::string("\x0a\x00", 2), true));  // an empty partial_success
    CHECK_FALSE(read_partial_success(std::string(20, '\xff'), true));      // a varint that never ends
  }
}
