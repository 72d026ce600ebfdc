// The SSE parser: events whole, whatever the chunk boundaries, and the EventSource rules.

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "client/cli/sse_parser.hpp"

using tracecol::cli::SseEvent;
using tracecol::cli::SseParser;

namespace {

std::vector<SseEvent> parse_in_chunks(const std::string& text, const std::vector<std::size_t>& cuts) {
  SseParser p;
  std::vector<SseEvent> out;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    REQUIRE(p.feed(std::string_view(text).substr(at, cut - at), out));
    at = cut;
  }
  REQUIRE(p.feed(std::string_view(text).substr(at), out));
  return out;
}

const std::string stream_text =
    ": tracecol stream\n\n"
    "event: span\ndata: {\"span_id\":\"1\"}\n\n"
    ": keepalive\n\n"
    "event: trace\r\ndata: {\"trace_id\":\"a\",\r\ndata:  \"x\":1}\r\n\r\n"
    "event:trace\rdata:{\"k\":\"\xC3\xA9\"}\r\r"
    "data: plain\n\n";

void check_stream_events(const std::vector<SseEvent>& events) {
  REQUIRE(events.size() == 4);
  CHECK(events[0].type == "span");
  CHECK(events[0].data == "{\"span_id\":\"1\"}");
  CHECK(events[1].type == "trace");
  CHECK(events[1].data == "{\"trace_id\":\"a\",\n \"x\":1}");
  CHECK(events[2].type == "trace");
  CHECK(events[2].data == "{\"k\":\"\xC3\xA9\"}");
  CHECK(events[3].type == "message");
  CHECK(events[3].data == "plain");
}

}  // namespace

TEST_SUITE("cli sse parser") {
TEST_CASE("parses the tracecol stream's events, comments and line endings in one chunk") {
  SseParser p;
  std::vector<SseEvent> out;
  REQUIRE(p.feed(stream_text, out));
  check_stream_events(out);
  CHECK(p.comments() == 2);
}

TEST_CASE("yields the same events when the stream is cut at every single position") {
  for (std::size_t cut = 0; cut <= stream_text.size(); ++cut) {
    CAPTURE(cut);
    check_stream_events(parse_in_chunks(stream_text, {cut}));
  }
}

TEST_CASE("yields the same events when the stream arrives one byte at a time") {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < stream_text.size(); ++i) cuts.push_back(i);
  check_stream_events(parse_in_chunks(stream_text, cuts));
}

TEST_CASE("yields the same events for random chunkings") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0;;) {
      at += 1 + rng() % 7;
      if (at >= stream_text.size()) break;
      cuts.push_back(at);
    }
    check_stream_events(parse_in_chunks(stream_text, cuts));
  }
}

TEST_CASE("counts a CRLF split across two chunks as one line end") {
  SseParser p;
  std::vector<SseEvent> out;
  REQUIRE(p.feed("data: a\r", out));
  REQUIRE(p.feed("\n\r", out));
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "a");
  REQUIRE(p.feed("\ndata: b\n\n", out));
  REQUIRE(out.size() == 2);
  CHECK(out[1].data == "b");
}

TEST_CASE("skips a leading BOM even when it is split, and only at the start") {
  SseParser p;
  std::vector<SseEvent> out;
  REQUIRE(p.feed("\xEF", out));
  REQUIRE(p.feed("\xBB", out));
  REQUIRE(p.feed("\xBF" "data: x\n\n", out));
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "x");
  CHECK(out[0].type == "message");
}

TEST_CASE("does not dispatch an event without data, and resets the type after a dispatch") {
  SseParser p;
  std::vector<SseEvent> out;
  REQUIRE(p.feed("event: trace\n\nevent: span\nid: 7\ndata\n\ndata: y\n\n", out));
  REQUIRE(out.size() == 2);
  CHECK(out[0].type == "span");
  CHECK(out[0].data.empty());
  CHECK(out[0].id == "7");
  CHECK(out[1].type == "message");
  CHECK(out[1].id == "7");  // sticky, as EventSource keeps lastEventId
}

TEST_CASE("drops only one space after the colon and ignores unknown fields and retry") {
  SseParser p;
  std::vector<SseEvent> out;
  REQUIRE(p.feed("retry: 10\nfoo: bar\ndata:   two spaces\n\n", out));
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "  two spaces");
}

TEST_CASE("keeps an unfinished event until its blank line arrives") {
  SseParser p;
  std::vector<SseEvent> out;
  REQUIRE(p.feed("event: trace\ndata: {}\n", out));
  CHECK(out.empty());
  REQUIRE(p.feed("\n", out));
  CHECK(out.size() == 1);
}

TEST_CASE("fails, and stays failed, when an event outgrows the limit") {
  SseParser p(64);
  std::vector<SseEvent> out;
  CHECK(p.feed("data: " + std::string(40, 'a') + "\n", out));
  CHECK_FALSE(p.feed("data: " + std::string(40, 'b') + "\n", out));
  CHECK(p.failed());
  CHECK_FALSE(p.feed("\n", out));
  CHECK(out.empty());
  SseParser q(64);
  CHECK_FALSE(q.feed(std::string(100, 'x'), out));  // an unended line counts too
}
}
