#include <doctest/doctest.h>

#include <unistd.h>

#include <string>

#include "daemon/store/trace_record.hpp"

using tracecol::store::TraceRecord;

TEST_SUITE("trace record") {
  TEST_CASE("a record holds exactly the bytes it was given, in whole pages of its own") {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    for (const std::size_t n : {std::size_t{1}, page - 1, page, page + 1, std::size_t{35'000}, std::size_t{3} << 20}) {
      std::string text(n, '\0');
      for (std::size_t i = 0; i < n; ++i) text[i] = static_cast<char>('a' + i % 26);
      const auto r = TraceRecord::copy_of(text);
      REQUIRE(r != nullptr);
      CHECK(r->size() == n);
      CHECK(r->view() == text);
      CHECK(r->footprint() % page == 0);  // counted as the pages it takes
      CHECK(r->footprint() >= n);
      CHECK(r->footprint() < n + page);
    }
  }

  TEST_CASE("an empty record is valid and holds nothing") {
    const auto r = TraceRecord::copy_of({});
    REQUIRE(r != nullptr);
    CHECK(r->size() == 0);
    CHECK(r->view().empty());
  }

  TEST_CASE("records are independent: freeing one leaves the others' bytes intact") {
    auto a = TraceRecord::copy_of(std::string(10'000, 'a'));
    auto b = TraceRecord::copy_of(std::string(10'000, 'b'));
    a.reset();
    CHECK(b->view() == std::string(10'000, 'b'));
  }

  TEST_CASE("past max_mappings, records go on the heap, and a freed mapping's slot is reused") {
    const std::size_t before = TraceRecord::max_mappings();
    const std::size_t live = TraceRecord::live_mappings();
    TraceRecord::set_max_mappings(live + 2);
    auto a = TraceRecord::copy_of(std::string(5000, 'a'));
    auto b = TraceRecord::copy_of(std::string(5000, 'b'));
    auto c = TraceRecord::copy_of(std::string(5000, 'c'));
    CHECK(a->mapped());
    CHECK(b->mapped());
    CHECK_FALSE(c->mapped());  // every slot taken: the heap, same bytes
    CHECK(c->view() == std::string(5000, 'c'));
    CHECK(TraceRecord::live_mappings() == live + 2);
    a.reset();
    CHECK(TraceRecord::live_mappings() == live + 1);
    auto d = TraceRecord::copy_of(std::string(5000, 'd'));
    CHECK(d->mapped());
    TraceRecord::set_max_mappings(before);
  }

  TEST_CASE("a record asked for on the heap takes no mapping") {
    const std::size_t live = TraceRecord::live_mappings();
    auto r = TraceRecord::copy_of(std::string(50'000, 'h'), TraceRecord::Home::heap);
    CHECK_FALSE(r->mapped());
    CHECK(r->view() == std::string(50'000, 'h'));
    CHECK(TraceRecord::live_mappings() == live);
  }
}
