// ls's table: alignment, terminal safety and the /api/traces page turned into rows.

#include <doctest/doctest.h>

#include <string>

#include "client/cli/table.hpp"

using namespace tracecol::cli;

TEST_SUITE("cli table") {
TEST_CASE("aligns columns two spaces apart with no trailing spaces") {
  const std::string t = format_table({"ID", "NAME", "N"}, {{"a", "longer name", "1"}, {"bbbb", "x", ""}});
  CHECK(t ==
        "ID    NAME         N\n"
        "a     longer name  1\n"
        "bbbb  x\n");
}

TEST_CASE("measures UTF-8 text in characters, not bytes") {
  const std::string t = format_table({"NAME", "X"}, {{"\xC3\xA9t\xC3\xA9", "1"}, {"abcd", "2"}});
  CHECK(t ==
        "NAME  X\n"
        "\xC3\xA9t\xC3\xA9   1\n"
        "abcd  2\n");
}

TEST_CASE("escapes control characters so a name cannot drive the terminal") {
  CHECK(printable("a\x1b[31mb\n\t\x7f") == "a\\x1b[31mb\\n\\t\\x7f");
  CHECK(printable("c1:\xC2\x9B") == "c1:\\x9b");
  CHECK(printable("\xC3\xA9") == "\xC3\xA9");
}

TEST_CASE("formats durations and UTC start times compactly") {
  CHECK(format_duration_ms("142") == "142ms");
  CHECK(format_duration_ms("1.5") == "1.5ms");
  CHECK(format_duration_ms("12345.6") == "12.3s");
  CHECK(format_duration_ms("") == "-");
  CHECK(format_duration_ms("null") == "-");
  CHECK(format_epoch("1732500000.005000") == "2024-11-25 02:00:00.005");
  CHECK(format_epoch("") == "-");
  CHECK(format_epoch("-3") == "-");
}

TEST_CASE("turns an /api/traces page into a table, newest first as sent") {
  const std::string body =
      R"({"traces":[{"trace_id":"000000000000000000000000000000b1","run_id":"run-b","name":"search","span_count":1,)"
      R"("error_count":0,"started_at":1732500002.000000,"duration_ms":50,"complete":true},)"
      R"({"trace_id":"000000000000000000000000000000a2","run_id":"run-a","name":"act\u001b","span_count":2,)"
      R"("error_count":1,"started_at":1732500001.000000,"duration_ms":null,"complete":false},)"
      R"({"trace_id":"000000000000000000000000000000a1","run_id":"run-a","name":"old","span_count":3,)"
      R"("error_count":0,"started_at":1732500000.000000,"duration_ms":7,"complete":false}],"next_cursor":null})";
  std::string error;
  bool more = true;
  const auto t = traces_table(body, error, more);
  REQUIRE(t);
  CHECK_FALSE(more);
  CHECK(*t ==
        "TRACE_ID                          STARTED (UTC)            DURATION  SPANS  ERRORS  STATUS      RUN_ID  NAME\n"
        "000000000000000000000000000000b1  2024-11-25 02:00:02.000  50ms      1      0       complete    run-b   search\n"
        "000000000000000000000000000000a2  2024-11-25 02:00:01.000  -         2      1       running     run-a   act\\x1b\n"
        "000000000000000000000000000000a1  2024-11-25 02:00:00.000  7.0ms     3      0       incomplete  run-a   old\n");
}

TEST_CASE("says there are more traces when the page has a next cursor") {
  std::string error;
  bool more = false;
  const auto t = traces_table(R"({"traces":[],"next_cursor":"00000000000000000000000000000001"})", error, more);
  REQUIRE(t);
  CHECK(more);
}

TEST_CASE("refuses a body that is not a traces page") {
  std::string error;
  bool more = false;
  CHECK_FALSE(traces_table("<html>", error, more));
  CHECK_FALSE(traces_table(R"({"error":"x"})", error, more));
  CHECK(error.find("no traces") != std::string::npos);
}
}
