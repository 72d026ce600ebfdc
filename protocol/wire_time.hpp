#pragma once
// Wire times to Unix epoch nanoseconds, exactly and without ever producing inf/nan or
// overflowing int64 (times past year 2262 are refused).

#include <cstdint>
#include <string_view>

namespace tracecol::protocol {

/**
 * A JSON number token (grammar already checked) in seconds: >= 1e9 is Unix epoch, below
 * is CLOCK_MONOTONIC seconds, shifted by monotonic_offset_ns. Plain decimals are read
 * exactly to the nanosecond; exponent forms go through std::from_chars. False for
 * negative, non-finite, out-of-range or non-positive results.
 */
bool parse_wire_seconds(std::string_view token, std::int64_t monotonic_offset_ns, std::int64_t& ns);

/** 1..19 decimal digits of Unix nanoseconds (a JSON integer or a string); false unless > 0 and in range. */
bool parse_wire_nanos(std::string_view digits, std::int64_t& ns);

}  // namespace tracecol::protocol
