// bench's generated lines are protocol lines the daemon's decoder accepts.

#include <doctest/doctest.h>

#include <string>

#include "client/cli/bench_load.hpp"
#include "client/cli/socket_client.hpp"
#include "protocol/decoder.hpp"
#include "protocol/event.hpp"

using namespace tracecol;

TEST_SUITE("cli bench") {
TEST_CASE("generates spans-per-trace span lines and a trace_end, all accepted by the decoder") {
  std::string out;
  const std::string payload(300, 'x');
  CHECK(cli::append_bench_trace(out, 0xabc, 0xdef, 5, payload, 1732500000.25) == 5);
  protocol::Decoder decoder;
  protocol::Event event;
  std::size_t spans = 0, ends = 0, at = 0;
  for (std::size_t nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1) {
    const auto line = std::string_view(out).substr(at, nl - at);
    const auto r = decoder.decode(line, event);
    INFO(line);
    REQUIRE(r.ok);
    if (event.type == protocol::EventType::span) {
      ++spans;
      CHECK(event.span.trace_id == protocol::TraceId{0xabc, 0xdef});
      CHECK(event.span.parent_id == (event.span.span_id == 1 ? 0u : 1u));
      CHECK(event.span.inputs.size() > payload.size());
    } else {
      CHECK(event.type == protocol::EventType::trace_end);
      ++ends;
    }
  }
  CHECK(at == out.size());
  CHECK(spans == 5);
  CHECK(ends == 1);
}

TEST_CASE("reads the daemon's flushed line and nothing else") {
  const auto f = cli::parse_flushed(R"({"type":"flushed","id":7,"accepted":41,"rejected":1,"last_error":"bad_time"})");
  REQUIRE(f);
  CHECK(f->id == 7);
  CHECK(f->accepted == 41);
  CHECK(f->rejected == 1);
  CHECK(f->last_error == "bad_time");
  const auto g = cli::parse_flushed(R"({"type":"flushed","id":1,"accepted":0,"rejected":0,"last_error":null})");
  REQUIRE(g);
  CHECK(g->last_error.empty());
  CHECK_FALSE(cli::parse_flushed(R"({"type":"flush","id":1})"));
  CHECK_FALSE(cli::parse_flushed(R"({"type":"flushed","id":-1,"accepted":0,"rejected":0})"));
  CHECK_FALSE(cli::parse_flushed("garbage"));
}
}
