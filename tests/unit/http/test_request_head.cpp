#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "daemon/http/request_head.hpp"

namespace bhttp = boost::beast::http;
using tracecol::http::check_request_head;
using tracecol::http::RequestHead;

namespace {

RequestHead head(std::initializer_list<std::string> transfer_encodings, unsigned version = 11) {
  RequestHead h;
  h.method(bhttp::verb::post);
  h.target("/api/spans");
  h.version(version);
  h.set(bhttp::field::host, "localhost");
  for (const auto& te : transfer_encodings) h.insert(bhttp::field::transfer_encoding, te);
  return h;
}

/** The refusal's status, or 0 when the head may be served. */
unsigned status(const RequestHead& h) {
  const auto r = check_request_head(h);
  return r ? r->status : 0;
}

}  // namespace

TEST_SUITE("http request head") {
  TEST_CASE("chunked alone, or no Transfer-Encoding, is served") {
    CHECK(status(head({})) == 0);
    CHECK(status(head({"chunked"})) == 0);
    CHECK(status(head({" Chunked "})) == 0);
    CHECK(status(head({}, 10)) == 0);
  }

  TEST_CASE("a coding list whose final coding is not chunked is 400: the body length cannot be known") {
    for (const char* te : {"chunked, identity", "xchunked", "identity", "gzip", "chunked,", "", "chunked;q=1"}) {
      CAPTURE(te);
      const auto r = check_request_head(head({te}));
      REQUIRE(r);
      CHECK(r->status == 400);
      CHECK(r->body.starts_with("{\"error\":"));
    }
    CHECK(status(head({"chunked", "identity"})) == 400);  // two fields are one list
    CHECK(status(head({"chunked, chunked"})) == 400);
    CHECK(status(head({"chunked", "chunked"})) == 400);
  }

  TEST_CASE("another coding before chunked is 501: only chunked is understood") {
    CHECK(status(head({"gzip, chunked"})) == 501);
    CHECK(status(head({"gzip", "chunked"})) == 501);
    CHECK(status(head({"identity, chunked"})) == 501);
  }

  TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is 400") {
    CHECK(status(head({"chunked"}, 10)) == 400);
  }

  TEST_CASE("HTTP/1.1 needs exactly one non-empty Host, HTTP/1.0 may leave it out") {
    RequestHead h = head({});
    CHECK(status(h) == 0);
    h.insert(bhttp::field::host, "evil.example");
    CHECK(status(h) == 400);
    h.erase(bhttp::field::host);
    CHECK(status(h) == 400);
    h.set(bhttp::field::host, " ");
    CHECK(status(h) == 400);
    h.erase(bhttp::field::host);
    h.version(10);
    CHECK(status(h) == 0);
  }

  TEST_CASE("Authorization, Sec-Fetch-Site and Origin may each appear once") {
    for (const char* name : {"Authorization", "Sec-Fetch-Site", "Origin"}) {
      CAPTURE(name);
      RequestHead h = head({});
      h.insert(name, "x");
      CHECK(status(h) == 0);
      h.insert(name, "y");
      const auto r = check_request_head(h);
      REQUIRE(r);
      CHECK(r->status == 400);
      CHECK(r->body == std::string("{\"error\":\"more than one ") + name + " header\"}");
    }
  }
}
