#pragma once
// When to retry an HTTP export and how long to wait: exponential backoff with full
// jitter, Retry-After (delta-seconds or HTTP-date), a give-up deadline. Pure: no I/O.

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace tracecol::exporters::http {

/** What one request attempt came to. */
enum class Outcome {
  ok,                  // 2xx
  retryable_status,    // 429, 502, 503, 504
  permanent_status,    // any other status: the batch is rejected, never retried
  connection_error,    // resolve, connect, TLS handshake, reset, EOF before an answer
  timeout,             // no full answer within the request timeout
};

/** Classifies an HTTP status code. */
Outcome classify_status(unsigned status);

/** True for the outcomes that may be retried. */
inline bool retryable(Outcome o) {
  return o == Outcome::retryable_status || o == Outcome::connection_error || o == Outcome::timeout;
}

struct BackoffPolicy {
  std::chrono::milliseconds initial{250};
  std::chrono::milliseconds max{5000};
};

/**
 * Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"): a uniform draw
 * from [0, min(max, initial * 2^retry)], retry counting from 0. Thread-safe given its own rng.
 */
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, unsigned retry, std::mt19937_64& rng);

/**
 * Parses a Retry-After value: delta-seconds ("120") or an IMF-fixdate HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"), relative to `now`. A date in the past is zero.
 * nullopt when the value is neither (then the caller falls back to backoff).
 */
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

/**
 * The wait before the next attempt, or nullopt to give up: not retryable, or the wait
 * would end past `remaining` (what is left of the max elapsed time). A Retry-After wins
 * over the backoff draw (the server said when); otherwise backoff_delay(retry).
 */
std::optional<std::chrono::milliseconds> next_delay(Outcome outcome, std::optional<std::chrono::seconds> retry_after,
                                                    unsigned retry, std::chrono::milliseconds remaining,
                                                    const BackoffPolicy& policy, std::mt19937_64& rng);

}  // namespace tracecol::exporters::http
