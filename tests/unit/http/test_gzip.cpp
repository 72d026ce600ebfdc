#include <doctest/doctest.h>

#include "tests/support/gzip_compress.hpp"

#include <zlib.h>

#include <string>

#include "daemon/http/gzip.hpp"

using tracecol::http::inflate_gzip;
using tracecol::http::InflateStatus;

namespace {

using tracecol::testing::gzip_compress;

}  // namespace

TEST_SUITE("http gzip") {
  TEST_CASE("reads Content-Encoding: none or identity, gzip, anything else unsupported") {
    using tracecol::http::body_coding;
    using tracecol::http::BodyCoding;
    CHECK(body_coding("") == BodyCoding::identity);
    CHECK(body_coding(" Identity ") == BodyCoding::identity);
    CHECK(body_coding("gzip") == BodyCoding::gzip);
    CHECK(body_coding("\tGZIP ") == BodyCoding::gzip);
    for (const char* other : {"br", "deflate", "x-gzip", "gzip, gzip", "identity, gzip", "compress"}) {
      CAPTURE(other);
      CHECK(body_coding(other) == BodyCoding::unsupported);
    }
  }

  TEST_CASE("inflates a gzip body back to its bytes") {
    const std::string plain = R"({"resourceSpans":[]})" + std::string(200000, 'x');
    auto r = inflate_gzip(gzip_compress(plain), 1u << 20);
    CHECK(r.status == InflateStatus::ok);
    CHECK(r.data == plain);
  }

  TEST_CASE("accepts exactly the limit and refuses one byte more") {
    const std::string plain(4096, 'a');
    CHECK(inflate_gzip(gzip_compress(plain), 4096).status == InflateStatus::ok);
    auto over = inflate_gzip(gzip_compress(plain), 4095);
    CHECK(over.status == InflateStatus::too_large);
    CHECK(over.data.empty());
  }

  TEST_CASE("stops a gzip bomb at the limit without inflating it all") {
    const std::string bomb = gzip_compress(std::string(64u << 20, '\0'));
    CHECK(bomb.size() < (1u << 20));
    auto r = inflate_gzip(bomb, 1u << 20);
    CHECK(r.status == InflateStatus::too_large);
    CHECK(r.data.capacity() < (4u << 20));
  }

  TEST_CASE("concatenated gzip members inflate to their concatenation") {
    auto r = inflate_gzip(gzip_compress("hello ") + gzip_compress("world"), 100);
    CHECK(r.status == InflateStatus::ok);
    CHECK(r.data == "hello world");
  }

  TEST_CASE("corrupt, truncated, empty or trailing-garbage input is corrupt") {
    const std::string good = gzip_compress(std::string(1000, 'z') + "tail");
    CHECK(inflate_gzip("", 100).status == InflateStatus::corrupt);
    CHECK(inflate_gzip("not gzip at all", 100).status == InflateStatus::corrupt);
    CHECK(inflate_gzip(good.substr(0, good.size() / 2), 10000).status == InflateStatus::corrupt);
    CHECK(inflate_gzip(good.substr(0, good.size() - 1), 10000).status == InflateStatus::corrupt);
    std::string flipped = good;
    flipped[flipped.size() - 6] = static_cast<char>(flipped[flipped.size() - 6] ^ 0x55);  // the CRC32
    CHECK(inflate_gzip(flipped, 10000).status == InflateStatus::corrupt);
    CHECK(inflate_gzip(good + "junk", 10000).status == InflateStatus::corrupt);
  }
}
