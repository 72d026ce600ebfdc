#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "daemon/ingest/line_framer.hpp"

using tracecol::ingest::LineBudget;
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

  TEST_CASE("a mixed stream framed one byte at a time equals the same stream in one read") {
    std::string stream;
    for (int i = 0; i < 50; ++i) {
      stream += "{\"n\":" + std::to_string(i) + "}\r\n";  // CRLF, split at every byte boundary
      if (i % 7 == 0) stream += "\n\r\n";                // blank lines, bare and CRLF
      if (i % 11 == 0) stream += std::string(300 + i, 'L') + "\n";  // over the limit of 256
    }
    stream += "tail-without-newline";
    auto whole = frame(stream, 256, {1 << 20});
    auto bytes = frame(stream, 256, {1}, 64);
    CHECK(whole.lines.size() == 50);
    CHECK(whole.too_long.size() == 5);
    CHECK(whole.blank == 16);
    CHECK(whole.partial == std::string("tail-without-newline").size());
    CHECK(bytes.lines == whole.lines);
    CHECK(bytes.too_long.size() == whole.too_long.size());
    CHECK(bytes.blank == whole.blank);
    CHECK(bytes.partial == whole.partial);
  }

  TEST_CASE("keeps a CR split from its LF across reads out of the line") {
    auto f = frame("abc\r\ndef\r\n", 100, {4});  // reads: "abc\r" "\ndef" "\r\n"
    CHECK(f.lines == std::vector<std::string>{"abc", "def"});
  }

  TEST_CASE("holds at most the limit while skipping a huge line and reports it once") {
    LineFramer framer(1000, 4096);
    std::size_t too_long = 0, lines = 0, max_buffered = 0;
    auto feed = [&](const std::string& bytes) {
      for (std::size_t pos = 0; pos < bytes.size();) {
        auto space = framer.prepare();
        std::size_t n = std::min(space.size(), bytes.size() - pos);
        std::memcpy(space.data(), bytes.data() + pos, n);
        pos += n;
        framer.commit(n, [&](std::string_view) { ++lines; }, [&](std::size_t) { ++too_long; });
        max_buffered = std::max(max_buffered, framer.buffered());
      }
    };
    feed(std::string(10 << 20, 'x'));  // 10 MiB without a newline
    CHECK(too_long == 1);
    CHECK(max_buffered <= 1001);
    feed("\nnext\n");
    CHECK(too_long == 1);
    CHECK(lines == 1);
    CHECK(framer.finish() == 0);
  }

  TEST_CASE("does not count a line cut off at EOF twice when it was already too long") {
    auto f = frame(std::string(5000, 'x'), 1000, {512}, 512);
    CHECK(f.too_long.size() == 1);
    CHECK(f.partial == 0);
  }

  TEST_CASE("holds no buffer until the first read, grows for a long line and gives it back between lines") {
    LineFramer framer(1 << 20, 4096);
    CHECK(framer.capacity() == 0);
    std::vector<std::string> lines;
    auto feed = [&](const std::string& bytes) {
      for (std::size_t pos = 0; pos < bytes.size();) {
        auto space = framer.prepare();
        std::size_t n = std::min(space.size(), bytes.size() - pos);
        std::memcpy(space.data(), bytes.data() + pos, n);
        pos += n;
        framer.commit(n, [&](std::string_view line) { lines.emplace_back(line); }, [](std::size_t) {});
      }
    };
    feed("short\n");
    CHECK(framer.capacity() == 4096);
    framer.release();
    CHECK(framer.capacity() == 0);
    const std::string long_line(100000, 'y');
    feed(long_line.substr(0, 50000));
    framer.release();  // a partial line is held: the buffer stays
    CHECK(framer.capacity() >= 50000);
    feed(long_line.substr(50000) + "\nnext\n");
    CHECK(framer.capacity() <= (1u << 20) + 2 + 4096);
    framer.release();
    CHECK(framer.capacity() == 0);
    REQUIRE(lines.size() == 3);
    CHECK(lines[1] == long_line);
    CHECK(lines[2] == "next");
  }

  TEST_CASE("never offers more than the read size to write into") {
    LineFramer framer(100, 64);
    CHECK(framer.prepare().size() == 64);
  }

  TEST_CASE("long lines share one budget: a line that would pass it is dropped and skipped, the next one is whole") {
    // read_size 64: buffers up to 128 bytes are free; growth past that comes from the budget.
    LineBudget budget(1000);
    LineFramer a(4096, 64, &budget), b(4096, 64, &budget);
    std::vector<std::string> lines_a, lines_b;
    std::size_t too_long = 0;
    auto feed = [&](LineFramer& f, std::vector<std::string>& lines, const std::string& bytes) {
      std::size_t pos = 0;
      while (pos < bytes.size()) {
        auto space = f.prepare();
        if (auto dropped = f.take_budget_drop()) lines.push_back("dropped:" + std::to_string(*dropped));
        const std::size_t n = std::min(space.size(), bytes.size() - pos);
        std::memcpy(space.data(), bytes.data() + pos, n);
        pos += n;
        f.commit(n, [&](std::string_view line) { lines.emplace_back(line); }, [&](std::size_t) { ++too_long; });
      }
    };
    feed(a, lines_a, std::string(900, 'a'));  // unfinished: a holds ~900 bytes past the free part
    CHECK(budget.held() > 700);
    CHECK(budget.held() <= budget.limit());
    feed(b, lines_b, std::string(600, 'b') + "\n" + "ok\n");  // no room to grow: dropped, then "ok"
    REQUIRE(lines_b.size() == 2);
    CHECK(lines_b[0].rfind("dropped:", 0) == 0);
    CHECK(lines_b[1] == "ok");
    feed(a, lines_a, "\n");  // a's line completes whole
    REQUIRE(lines_a.size() == 1);
    CHECK(lines_a[0] == std::string(900, 'a'));
    CHECK(too_long == 0);
    a.release();
    CHECK(budget.held() == 0);  // a gave its growth back; b never took any
    feed(b, lines_b, std::string(600, 'c') + "\n");  // now there is room
    CHECK(lines_b.back() == std::string(600, 'c'));
  }

  TEST_CASE("a framer gives its budget back when it is destroyed holding a line") {
    LineBudget budget(1 << 20);
    {
      LineFramer f(1 << 16, 64, &budget);
      std::size_t fed = 0;
      while (fed < 5000) {
        auto space = f.prepare();
        std::memset(space.data(), 'x', space.size());
        fed += space.size();
        f.commit(space.size(), [](std::string_view) {}, [](std::size_t) {});
      }
      CHECK(budget.held() > 4000);
    }
    CHECK(budget.held() == 0);
  }
}
