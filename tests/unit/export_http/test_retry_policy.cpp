#include <doctest/doctest.h>

#include "daemon/export/http/retry_policy.hpp"

using namespace std::chrono_literals;
namespace eh = tracecol::exporters::http;

TEST_SUITE("export http retry policy") {
  TEST_CASE("retries 429, 502, 503, 504 and nothing else of the statuses") {
    CHECK(eh::classify_status(200) == eh::Outcome::ok);
    CHECK(eh::classify_status(204) == eh::Outcome::ok);
    for (unsigned s : {429u, 502u, 503u, 504u}) CHECK(eh::classify_status(s) == eh::Outcome::retryable_status);
    for (unsigned s : {301u, 400u, 401u, 403u, 404u, 413u, 500u, 501u})
      CHECK(eh::classify_status(s) == eh::Outcome::permanent_status);
    CHECK(eh::retryable(eh::Outcome::connection_error));
    CHECK(eh::retryable(eh::Outcome::timeout));
    CHECK_FALSE(eh::retryable(eh::Outcome::permanent_status));
  }

  TEST_CASE("full jitter draws within zero and the doubled ceiling, capped at max") {
    std::mt19937_64 rng(42);
    const eh::BackoffPolicy p{100ms, 1000ms};
    for (unsigned retry = 0; retry < 40; ++retry) {
      const auto ceiling = std::min<std::int64_t>(1000, retry < 10 ? 100LL << retry : 1000);
      std::int64_t seen_max = 0;
      std::int64_t seen_min = ceiling;
      for (int i = 0; i < 200; ++i) {
        const auto d = eh::backoff_delay(p, retry, rng).count();
        CHECK(d >= 0);
        CHECK(d <= ceiling);
        seen_max = std::max(seen_max, d);
        seen_min = std::min(seen_min, d);
      }
      // Full jitter spreads over the whole range, not around the ceiling.
      CHECK(seen_max > ceiling * 3 / 4);
      CHECK(seen_min < ceiling / 4);
    }
  }

  TEST_CASE("reads Retry-After as delta seconds") {
    const auto now = std::chrono::system_clock::now();
    CHECK(eh::parse_retry_after("120", now) == std::optional(120s));
    CHECK(eh::parse_retry_after(" 0 ", now) == std::optional(0s));
    CHECK(eh::parse_retry_after("99999999999999999999", now).has_value());  // huge: still "later"
    CHECK_FALSE(eh::parse_retry_after("-5", now).has_value());
    CHECK_FALSE(eh::parse_retry_after("1.5", now).has_value());
    CHECK_FALSE(eh::parse_retry_after("soon", now).has_value());
    CHECK_FALSE(eh::parse_retry_after("", now).has_value());
  }

  TEST_CASE("reads Retry-After as an HTTP-date relative to now, the past as zero") {
    // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
    const std::chrono::system_clock::time_point date{std::chrono::seconds(1445412480)};
    CHECK(eh::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 30s) == std::optional(30s));
    CHECK(eh::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 1500ms) == std::optional(2s));
    CHECK(eh::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date + 10s) == std::optional(0s));
    CHECK_FALSE(eh::parse_retry_after("Wed, 21 Foo 2015 07:28:00 GMT", date).has_value());
    CHECK_FALSE(eh::parse_retry_after("Wed, 31 Feb 2015 07:28:00 GMT", date).has_value());
    CHECK_FALSE(eh::parse_retry_after("Wed, 21 Oct 2015 07:28:00 UTC", date).has_value());
    CHECK_FALSE(eh::parse_retry_after("Wed, 21 Oct 2015 25:28:00 GMT", date).has_value());
  }

  TEST_CASE("the next delay: Retry-After wins, give up past the max elapsed time or when not retryable") {
    std::mt19937_64 rng(7);
    const eh::BackoffPolicy p{100ms, 1000ms};
    CHECK(eh::next_delay(eh::Outcome::retryable_status, 3s, 0, 10s, p, rng) == std::optional(3000ms));
    CHECK_FALSE(eh::next_delay(eh::Outcome::retryable_status, 30s, 0, 10s, p, rng).has_value());
    CHECK_FALSE(eh::next_delay(eh::Outcome::permanent_status, std::nullopt, 0, 10s, p, rng).has_value());
    CHECK_FALSE(eh::next_delay(eh::Outcome::ok, std::nullopt, 0, 10s, p, rng).has_value());
    CHECK_FALSE(eh::next_delay(eh::Outcome::connection_error, std::nullopt, 0, 0ms, p, rng).has_value());
    const auto d = eh::next_delay(eh::Outcome::timeout, std::nullopt, 3, 10s, p, rng);
    REQUIRE(d.has_value());
    CHECK(d->count() <= 800);
  }
}
