#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/metadata_members.hpp"

namespace tp = tracecol::protocol;

namespace {

std::vector<tp::MetadataMember> members(std::string_view metadata) {
  std::vector<tp::MetadataMember> out;
  tp::for_each_metadata_member(metadata, [&](const tp::MetadataMember& m) { out.push_back(m); });
  return out;
}

}  // namespace

TEST_CASE("metadata members: integers carry their value, parsed once, exact at the int64 edges") {
  const auto m = members(
      R"({"a":0,"b":-7,"c":123456789012345678,"d":-123456789012345678,"e":9223372036854775807,)"
      R"("f":-9223372036854775808,"g":9223372036854775808,"h":1.5,"i":1e3,"j":-0})");
  REQUIRE(m.size() == 10);
  CHECK(m[0].type == tp::MemberType::integer);
  CHECK(m[0].integer == 0);
  CHECK(m[1].integer == -7);
  CHECK(m[2].integer == 123456789012345678LL);   // 18 digits: the short path
  CHECK(m[3].integer == -123456789012345678LL);
  CHECK(m[4].type == tp::MemberType::integer);   // 19 digits: from_chars decides
  CHECK(m[4].integer == 9223372036854775807LL);
  CHECK(m[5].type == tp::MemberType::integer);
  CHECK(m[5].integer == (-9223372036854775807LL - 1));
  CHECK(m[6].type == tp::MemberType::number);    // past int64: a double
  CHECK(m[7].type == tp::MemberType::number);
  CHECK(m[8].type == tp::MemberType::number);
  CHECK(m[9].type == tp::MemberType::integer);
  CHECK(m[9].integer == 0);
}

TEST_CASE("metadata members: strings, booleans, null, containers and numbers no double holds keep their kinds") {
  const auto m = members(R"({"s":"x\"y","t":true,"n":null,"o":{"k":[1,"}"]},"x":1e999})");
  REQUIRE(m.size() == 5);
  CHECK(m[0].type == tp::MemberType::string);
  CHECK(m[0].value == R"(x\"y)");
  CHECK(m[0].value_escaped);
  CHECK(m[1].type == tp::MemberType::boolean);
  CHECK(m[2].type == tp::MemberType::null);
  CHECK(m[3].type == tp::MemberType::object);
  CHECK(m[3].value == R"({"k":[1,"}"]})");
  CHECK(m[4].type == tp::MemberType::text);  // no double holds it
}
