#pragma once
// Byte-level helpers shared by the decoders and their callers.

#include <cstdint>
#include <string_view>

namespace tracecol::protocol {

/** The value of one hex digit (either case), or -1. */
constexpr int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/** 64-bit FNV-1a: a cheap, stable hash (duplicate-key buckets, log fingerprints of lines). */
constexpr std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : bytes) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

}  // namespace tracecol::protocol
