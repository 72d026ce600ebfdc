// get's pretty printer: re-indents without touching a number's or a string's bytes.

#include <doctest/doctest.h>

#include "client/cli/pretty_json.hpp"

using tracecol::cli::pretty_json;

TEST_SUITE("cli pretty json") {
TEST_CASE("indents objects and arrays and keeps numbers and strings byte for byte") {
  CHECK(pretty_json(R"({"a":1732500000.000000,"b":[1,{"c":"x, y: {z}\"q\\"}],"e":{},"f":[],"g":null})") ==
        "{\n"
        "  \"a\": 1732500000.000000,\n"
        "  \"b\": [\n"
        "    1,\n"
        "    {\n"
        "      \"c\": \"x, y: {z}\\\"q\\\\\"\n"
        "    }\n"
        "  ],\n"
        "  \"e\": {},\n"
        "  \"f\": [],\n"
        "  \"g\": null\n"
        "}");
}

TEST_CASE("handles deep nesting without recursion") {
  const std::string deep = std::string(3000, '[') + std::string(3000, ']');
  const std::string out = pretty_json(deep);
  CHECK(out.size() > deep.size());
}
}
