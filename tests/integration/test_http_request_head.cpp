// Request heads a proxy in front could read differently from the daemon, on the real
// daemon (from a hostile-input probe): Transfer-Encoding other than chunked alone is
// refused and the connection closed, so nothing after it is read as a request.

#include <doctest/doctest.h>

#include <string>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

struct Exchange {
  std::optional<HttpResponse> first;
  bool closed = false;           // the server closed the connection after the first answer
  bool second_answer = false;    // anything the server answered after the first
};

/** Sends raw bytes on a fresh connection: the first answer, then whether the server closed with nothing more. */
Exchange send_raw(int port, const std::string& bytes) {
  HttpClient c(port);
  REQUIRE(c.connected());
  REQUIRE(c.send(bytes));
  Exchange e;
  e.first = c.read_response(10s);
  if (!e.first) return e;
  e.closed = c.wait_eof(10s);
  // wait_eof kept what arrived: a second answer would parse from it.
  e.second_answer = c.read_response(1s).has_value();
  return e;
}

const std::string smuggled = "GET /api/traces/zz HTTP/1.1\r\nHost: localhost\r\n\r\n";

}  // namespace

TEST_SUITE("http request head") {
TEST_CASE("Transfer-Encoding other than chunked alone is refused and the connection closed: nothing is smuggled") {
  TempDir dir;
  HttpDaemon h(dir, {});
  struct Case {
    std::string head;
    std::string body;
    int status;
  };
  const Case cases[] = {
      // Read as a POST without a body, the GET behind it was answered: two answers, one connection.
      {"Transfer-Encoding: chunked, identity\r\n", smuggled, 400},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", smuggled, 400},
      // Framed by the Content-Length, which a proxy that saw the Transfer-Encoding would not do.
      {"Transfer-Encoding: xchunked\r\nContent-Length: 3\r\n", "abc" + smuggled, 400},
      // gzip was ignored: the body was read as if only chunked.
      {"Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n" + smuggled, 501},
      {"Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n" + smuggled, 400},
  };
  for (const auto& c : cases) {
    CAPTURE(c.head);
    auto e = send_raw(h.port, "POST /api/spans HTTP/1.1\r\nHost: localhost\r\n" + c.head + "\r\n" + c.body);
    REQUIRE(e.first);
    CHECK(e.first->status == c.status);
    CHECK(e.first->body.starts_with("{\"error\":\""));
    CHECK(e.first->headers["connection"] == "close");
    CHECK(e.closed);
    CHECK_FALSE(e.second_answer);
  }
  auto http10 = send_raw(h.port, "POST /api/spans HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  REQUIRE(http10.first);
  CHECK(http10.first->status == 400);
  CHECK(http10.closed);

  // chunked alone is still read, and the connection carries the next request.
  const std::string line = span_line(SpanSpec("c4", "1"));
  char size[16];
  std::snprintf(size, sizeof size, "%zx", line.size());
  HttpClient c(h.port);
  REQUIRE(c.send("POST /api/spans HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
                 std::string(size) + "\r\n" + line + "\r\n0\r\n\r\n"));
  auto posted = c.read_response();
  REQUIRE(posted);
  CHECK(posted->status == 200);
  CHECK(posted->body == R"({"accepted":1,"rejected":0,"errors":[]})");
  auto next = c.request("GET", "/healthz");
  REQUIRE(next);
  CHECK(next->status == 200);
}
}
