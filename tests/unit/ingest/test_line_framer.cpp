#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "daemon/ingest/line_framer.hpp"

using tracecol::ingest::LineFramer;

namespace {

struct Framed {
  std::vector<std::string> lines;
  std::vector<std::size_t> too_long;
  std::uint64_t blank = 0;
  std::size_t partial = 0;
};

/** Feeds `stream` to a framer in chunks of the given sizes (cycled). */
Framed frame(const std::string& stream, std::size_t max_line, const std::vector<std::size_t>& chunks,
             std::size_t read_size = 64 * 1024) {
  LineFramer framer(max_line, read_size);
  Framed out;
  std::size_t pos = 0, i = 0;
  while (pos < stream.size()) {
    auto space = framer.prepare();
    std::size_t n = std::min({chunks[i++ % chunks.size()], space.size(), stream.size() - pos});
    std::memcpy(space.data(), stream.data() + pos, n);
    pos += n;
    framer.commit(
        n, [&](std::string_view line) { out.lines.emplace_back(line); },
        [&](std::size_t len) { out.too_long.push_back(len); });
  }
  out.blank = framer.blank_lines();
  out.partial = framer.finish();
  return out;
}

}  // namespace

TEST_SUITE("line framer") {
  TEST_CASE("emits every line of one read, many lines per read") {
    auto f = frame("a\nbb\nccc\n", 100, {1 << 20});
    CHECK(f.lines == std::vector<std::string>{"a", "bb", "ccc"});
    CHECK(f.partial == 0);
  }

  TEST_CASE("joins a line split across reads, one byte at a time equals one read") {
    std::string stream;
    for (int i = 0; i < 200; ++i) stream += "{\"line\":" + std::to_string(i) + "}\n";
    auto whole = frame(stream, 1024, {1 << 20});
    auto bytes = frame(stream, 1024, {1});
    std::mt19937 rng(7);
    std::vector<std::size_t> random_chunks;
    for (int i = 0; i < 100; ++i) random_chunks.push_back(1 + rng() % 37);
    auto random = frame(stream, 1024, random_chunks);
    CHECK(whole.lines.size() == 200);
    CHECK(bytes.lines == whole.lines);
    CHECK(random.lines == whole.lines);
  }

  TEST_CASE("strips the carriage return of CRLF endings and skips blank lines") {
    auto f = frame("a\r\n\r\n\nb\n", 100, {3});
    CHECK(f.lines == std::vector<std::string>{"a", "b"});
    CHECK(f.blank == 2);
  }

  TEST_CASE("reports a partial line at EOF as dropped bytes") {
    auto f = frame("a\nunfinished", 100, {4});
    CHECK(f.lines == std::vector<std::string>{"a"});
    CHECK(f.partial == std::string("unfinished").size());
  }

  TEST_CASE("rejects an over-long line once and resumes at the next line") {
    std::string big(5000, 'x');
    auto f = frame("ok1\n" + big + "\nok2\n", 1000, {700}, 1024);
    CHECK(f.lines == std::vector<std::string>{"ok1", "ok2"});
    REQUIRE(f.too_long.size() == 1);
    CHECK(f.too_long[0] > 1000);
  }

  TEST_CASE("accepts a line of exactly the limit, also with CRLF") {
    std::string exact(1000, 'y');
    auto f = frame(exact + "\n" + exact + "\r\n" + exact + "z\n", 1000, {333}, 512);
    CHECK(f.lines.size() == 2);
    CHECK(f.too_long.size() == 1);
  }

  TEST_CASE("never offers more than the read size to write into") {
    LineFramer framer(100, 64);
    CHECK(framer.prepare().size() == 64);
  }
}
