#include <doctest/doctest.h>

#include "daemon/http/probe_reserve.hpp"

using tracecol::http::ProbeReserve;

TEST_SUITE("http probe reserve") {
  TEST_CASE("admits up to its size, then each newcomer evicts the oldest live member") {
    ProbeReserve r(2);
    CHECK(r.admit(1).admitted);
    auto second = r.admit(2);
    CHECK(second.admitted);
    CHECK_FALSE(second.evict);
    auto third = r.admit(3);
    CHECK(third.admitted);
    REQUIRE(third.evict);
    CHECK(*third.evict == 1);
    CHECK(r.live() == 2);
    CHECK(r.held() == 3);  // 1 is evicted but not gone yet
    auto fourth = r.admit(4);
    REQUIRE(fourth.evict);
    CHECK(*fourth.evict == 2);  // never the one already evicted
    r.leave(1);
    r.leave(2);
    CHECK(r.held() == 2);
    CHECK(*r.admit(5).evict == 3);
  }

  TEST_CASE("holds at most twice its size while evicted members linger") {
    ProbeReserve r(2);
    for (std::uint64_t id = 1; id <= 4; ++id) CHECK(r.admit(id).admitted);
    CHECK(r.held() == 4);
    auto over = r.admit(5);
    CHECK_FALSE(over.admitted);
    CHECK_FALSE(over.evict);
    r.leave(1);  // an evicted member went: room again
    CHECK(r.admit(6).admitted);
  }

  TEST_CASE("a member that leaves frees its place, an empty reserve admits nothing") {
    ProbeReserve r(1);
    CHECK(r.admit(1).admitted);
    r.leave(1);
    r.leave(42);  // unknown ids are ignored
    auto next = r.admit(2);
    CHECK(next.admitted);
    CHECK_FALSE(next.evict);
    ProbeReserve none(0);
    CHECK_FALSE(none.admit(1).admitted);
  }
}
