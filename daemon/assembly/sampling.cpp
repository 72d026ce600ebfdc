#include <cstdint>

#include "daemon/assembly/assembler.hpp"

namespace tracecol::assembly {

bool sampled_in(const protocol::TraceId& id, double sample_rate) {
  if (sample_rate >= 1.0) return true;
  if (sample_rate <= 0.0) return false;
  // Random trace ids are uniform already; MurmurHash3's fmix64 finalizer also spreads short,
  // sequential ids. Only the id goes in, so every sidecar decides the same way.
  std::uint64_t x = id.lo ^ (id.hi * 0x9E3779B97F4A7C15ULL);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return static_cast<double>(x >> 11) * 0x1.0p-53 < sample_rate;
}

}  // namespace tracecol::assembly
