#include <doctest/doctest.h>

#include "protocol/ids.hpp"

using namespace tracecol::protocol;

TEST_SUITE("ids") {
  TEST_CASE("left-pads short hex trace ids and folds case") {
    auto id = parse_trace_id("3A7F1C2B");
    REQUIRE(id.has_value());
    CHECK(id->hex() == "0000000000000000000000003a7f1c2b");
  }

  TEST_CASE("parses a full 32-digit trace id into both halves") {
    auto id = parse_trace_id("0123456789abcdef0123456789ABCDEF");
    REQUIRE(id.has_value());
    CHECK(id->hi == 0x0123456789abcdefULL);
    CHECK(id->lo == 0x0123456789abcdefULL);
    CHECK(id->hex() == "0123456789abcdef0123456789abcdef");
  }

  TEST_CASE("rejects empty, too long, non-hex and all-zero ids") {
    CHECK_FALSE(parse_trace_id("").has_value());
    CHECK_FALSE(parse_trace_id(std::string(33, 'a')).has_value());
    CHECK_FALSE(parse_trace_id("xyz").has_value());
    CHECK_FALSE(parse_trace_id("0000").has_value());
    CHECK_FALSE(parse_span_id(std::string(17, 'a')).has_value());
    CHECK_FALSE(parse_span_id("0").has_value());
    CHECK_FALSE(parse_span_id("-1").has_value());
  }

  TEST_CASE("prints span ids as 16 lowercase hex digits") {
    CHECK(span_id_hex(0xabcULL) == "0000000000000abc");
    CHECK(parse_span_id("ABC") == 0xabcULL);
  }
}
