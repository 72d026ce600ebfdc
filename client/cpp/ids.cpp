#include "client/cpp/ids.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <chrono>
#include <random>

namespace tracecol::client {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t process_seed() {
  std::uint64_t seed = 0;
  if (::getrandom(&seed, sizeof seed, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof seed)) {
    std::random_device rd;
    seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
           static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return seed;
}

// Bumped in a forked child so its threads never repeat the parent's sequence.
std::atomic<std::uint64_t> generation{1};
std::atomic<std::uint64_t> thread_counter{0};
std::atomic<std::uint64_t> seed_base{0};

void on_fork_child() {
  seed_base.store(process_seed(), std::memory_order_relaxed);
  generation.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t base_seed() {
  static const bool once = [] {
    seed_base.store(process_seed(), std::memory_order_relaxed);
    ::pthread_atfork(nullptr, nullptr, on_fork_child);
    return true;
  }();
  (void)once;
  return seed_base.load(std::memory_order_relaxed);
}

/** xoshiro256**, one per thread. */
struct Rng {
  std::uint64_t s[4] = {0, 0, 0, 0};
  std::uint64_t gen = 0;

  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  void seed() {
    std::uint64_t x = base_seed() ^ (thread_counter.fetch_add(1, std::memory_order_relaxed) * 0xD1B54A32D192ED03ULL);
    for (auto& w : s) w = splitmix64(x);
    gen = generation.load(std::memory_order_relaxed);
  }

  std::uint64_t next() {
    if (gen != generation.load(std::memory_order_relaxed)) seed();
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

thread_local Rng rng;

}  // namespace

std::string_view to_string(SpanKind kind) {
  switch (kind) {
    case SpanKind::AGENT: return "AGENT";
    case SpanKind::TOOL: return "TOOL";
    case SpanKind::LLM: return "LLM";
    case SpanKind::CHAIN: return "CHAIN";
    case SpanKind::TEAM: return "TEAM";
    case SpanKind::CUSTOM: break;
  }
  return "CUSTOM";
}

void append_hex64(std::string& out, std::uint64_t v) {
  char buf[16];
  for (int i = 15; i >= 0; --i) {
    buf[i] = hex_digits[v & 0xF];
    v >>= 4;
  }
  out.append(buf, sizeof buf);
}

std::string TraceId::hex() const {
  std::string out;
  out.reserve(32);
  append_hex64(out, hi);
  append_hex64(out, lo);
  return out;
}

std::string span_id_hex(SpanId id) {
  std::string out;
  append_hex64(out, id);
  return out;
}

TraceId new_trace_id() {
  TraceId id;
  do {
    id.hi = rng.next();
    id.lo = rng.next();
  } while (!id);
  return id;
}

SpanId new_span_id() {
  SpanId id = 0;
  while (id == 0) id = rng.next();
  return id;
}

bool sampled_in(const TraceId& id, double sample_rate) {
  if (sample_rate >= 1.0) return true;
  if (!(sample_rate > 0.0)) return false;
  // Must stay bit-for-bit the daemon's formula so client and daemon agree per trace.
  std::uint64_t x = id.lo ^ (id.hi * 0x9E3779B97F4A7C15ULL);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return static_cast<double>(x >> 11) * 0x1.0p-53 < sample_rate;
}

}  // namespace tracecol::client
