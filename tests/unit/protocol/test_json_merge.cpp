#include <doctest/doctest.h>

#include "protocol/json_merge.hpp"

using tracecol::protocol::merge_json_objects;

TEST_SUITE("json merge") {
  TEST_CASE("members of the update replace and extend the base, bytes kept") {
    CHECK(merge_json_objects(R"({"a":1,"b":{"x":[1]}})", R"({"b":2,"c":"\u00e9"})") == R"({"a":1,"b":2,"c":"\u00e9"})");
  }
  TEST_CASE("an empty side returns the other") {
    CHECK(merge_json_objects("{}", R"({"a":1})") == R"({"a":1})");
    CHECK(merge_json_objects(R"({"a":1})", "{}") == R"({"a":1})");
  }
  TEST_CASE("keys equal after unescaping are the same key") {
    CHECK(merge_json_objects(R"({"k":1})", R"({"\u006b":2})") == R"({"\u006b":2})");
  }
}
