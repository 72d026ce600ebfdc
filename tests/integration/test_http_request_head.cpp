// Request heads a proxy in front could read differently from the daemon, on the real
// daemon (from a hostile-input probe): Transfer-Encoding other than chunked alone is
// refused and the connection closed, so nothing after it is read as a request; Host must
// be there once, and the fields the access policy reads may not repeat.

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
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

TEST_CASE("a head of empty fields past 16 KiB is refused with 431 like any other") {
  // Beast's own header_limit let "a:\r\n" repeated past it (a 32 MB head was read, its
  // fields taking 18x that in memory); the daemon counts the head itself.
  TempDir dir;
  HttpDaemon h(dir, {});
  std::string empties;
  for (int i = 0; i < 200'000; ++i) empties += "a:\r\n";  // 800 KB
  for (const char* target : {"/api/traces", "/api/traces?ab", "/healthz", "/nope"}) {
    CAPTURE(target);
    auto e = send_raw(h.port, std::string("GET ") + target + " HTTP/1.1\r\nHost: localhost\r\n" + empties + "\r\n");
    REQUIRE(e.first);
    CHECK(e.first->status == 431);
    CHECK(e.first->body == R"({"error":"request headers too large"})");
    CHECK(e.closed);
  }
  // A head just under the limit is still served.
  std::string fine;
  for (int i = 0; i < 1000; ++i) fine += "a:\r\n";  // 4 KB
  auto ok = send_raw(h.port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + fine + "\r\n");
  REQUIRE(ok.first);
  CHECK(ok.first->status == 200);
}

TEST_CASE("one Host in HTTP/1.1, and no second Authorization, Sec-Fetch-Site or Origin: first-wins is refused") {
  TempDir dir;
  const std::string token = "2b7e151628aed2a6abf7158809cf4f3c";
  const std::string token_file = dir.file("token");
  std::ofstream(token_file) << token;
  ::chmod(token_file.c_str(), 0600);
  HttpDaemon h(dir, {"--http-token-file", token_file});
  const std::string bearer = "Authorization: Bearer " + token + "\r\n";
  auto status = [&](const std::string& request_line, const std::string& headers) {
    auto e = send_raw(h.port, request_line + "\r\n" + headers + "Connection: close\r\n\r\n");
    REQUIRE(e.first);
    CHECK(e.closed);
    return e.first->status;
  };
  const std::string get = "GET /api/traces HTTP/1.1";
  CHECK(status(get, "Host: localhost\r\n" + bearer) == 200);
  CHECK(status(get, "Host: localhost\r\nHost: evil.example\r\n" + bearer) == 400);
  CHECK(status("GET /healthz HTTP/1.1", "Host: localhost\r\nHost: evil.example\r\n") == 400);
  CHECK(status(get, bearer) == 400);
  CHECK(status(get, "Host:\r\n" + bearer) == 400);
  CHECK(status("GET /api/traces HTTP/1.0", bearer) == 200);  // HTTP/1.0 may leave Host out

  // The policy read the first: a valid token first and a wrong one after passed it.
  CHECK(status(get, "Host: localhost\r\n" + bearer + "Authorization: Bearer wrong\r\n") == 400);
  CHECK(status(get, "Host: localhost\r\n" + bearer + "Sec-Fetch-Site: same-origin\r\nSec-Fetch-Site: cross-site\r\n") ==
        400);
  CHECK(status(get, "Host: localhost\r\n" + bearer + "Origin: http://localhost\r\nOrigin: https://evil.example\r\n") ==
        400);
  auto e = send_raw(h.port, get + "\r\nHost: localhost\r\n" + bearer + bearer + "\r\n");
  REQUIRE(e.first);
  CHECK(e.first->body == R"({"error":"more than one Authorization header"})");
  CHECK(e.first->headers["connection"] == "close");
  CHECK(status(get, "Host: localhost\r\n" + bearer + "Sec-Fetch-Site: same-origin\r\nOrigin: http://localhost\r\n") ==
        200);
}
}
