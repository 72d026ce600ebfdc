#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "protocol/event_encoder.hpp"
#include "tests/unit/protocol/test_support.hpp"

namespace tp = tracecol::protocol;
using tp::testing::decode;

namespace {

/** decode(line) -> encode -> decode -> encode: both encodings are the same bytes, and returned. */
std::string canonical(std::string_view line) {
  tp::Event first;
  REQUIRE(decode(line, &first).ok);
  std::string once;
  tp::append_event_line(once, first);
  tp::Event second;
  const tp::DecodeResult again = decode(once, &second);
  INFO("re-encoded: " << once);
  REQUIRE(again.ok);
  std::string twice;
  tp::append_event_line(twice, second);
  CHECK(twice == once);
  return once;
}

}  // namespace

TEST_SUITE("event encoder") {
  TEST_CASE("a whole span keeps every member, times to the nanosecond") {
    const std::string line = canonical(
        R"({"type":"span","trace_id":"3A7F1C2B","span_id":"2","parent_id":"1","run_id":"run-42","name":"llm \"x\"",)"
        R"("kind":"llm","started_at":1732500000.000000005,"ended_at":1732500000.135,"inputs":{"prompt":"hi"},)"
        R"("outputs":null,"error":"","metadata":{"n":1.50E+3}})");
    CHECK(line ==
          R"({"type":"span","trace_id":"0000000000000000000000003a7f1c2b","span_id":"0000000000000002",)"
          R"("parent_id":"0000000000000001","run_id":"run-42","name":"llm \"x\"","kind":"LLM",)"
          R"("started_at":1732500000.000000005,"ended_at":1732500000.135000000,"inputs":{"prompt":"hi"},)"
          R"("outputs":null,"error":"","metadata":{"n":1.50E+3}})");
  }

  TEST_CASE("span_start and span_end carry only what they carried") {
    CHECK(canonical(R"({"type":"span_end","trace_id":"1","span_id":"3","ended_at":1732500000.142,"metadata":{"b":5}})") ==
          R"({"type":"span_end","trace_id":"00000000000000000000000000000001","span_id":"0000000000000003",)"
          R"("ended_at":1732500000.142000000,"metadata":{"b":5}})");
    const std::string start = canonical(R"({"type":"span_start","trace_id":"1","span_id":"3","started_at":5})");
    CHECK(start.find("ended_at") == std::string::npos);
  }

  TEST_CASE("a trace line keeps its spans and its run") {
    const std::string line = canonical(
        R"({"type":"trace","trace_id":"ab","run_id":"r","spans":[{"span_id":"1","name":"a","started_at":1732500000,)"
        R"("ended_at":1732500001},{"span_id":"2","parent_id":"1","started_at":1732500000.5,"error":"boom"}]})");
    CHECK(line.find(R"("spans":[{"span_id":"0000000000000001")") != std::string::npos);
    CHECK(line.find(R"("error":"boom")") != std::string::npos);
  }

  TEST_CASE("control lines round trip") {
    CHECK(canonical(R"({"type":"flush","id":7})") == R"({"type":"flush","id":7})");
    CHECK(canonical(R"({"type":"trace_end","trace_id":"ab","run_id":"r"})") ==
          R"({"type":"trace_end","trace_id":"000000000000000000000000000000ab","run_id":"r"})");
    CHECK(canonical(R"({"type":"hello","client":"c\u0000","service":"s"})") ==
          R"({"type":"hello","version":1,"client":"c\u0000","service":"s"})");
  }
}
