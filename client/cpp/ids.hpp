#pragma once
// Span and trace ids, SpanKind, and the sampling decision the daemon also makes.

#include <cstdint>
#include <string>
#include <string_view>

namespace tracecol::client {

/** The seed's SpanKind values. */
enum class SpanKind : std::uint8_t { AGENT, TOOL, LLM, CHAIN, TEAM, CUSTOM };

/** "AGENT", "TOOL", ... as on the wire. */
std::string_view to_string(SpanKind kind);

/** A 128-bit trace id; hi is the first 16 hex digits. Never zero when generated. */
struct TraceId {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  explicit operator bool() const { return hi != 0 || lo != 0; }
  friend bool operator==(const TraceId&, const TraceId&) = default;
  /** 32 lowercase hex characters. */
  std::string hex() const;
};

/** A 64-bit span id; 0 means none (no parent). */
using SpanId = std::uint64_t;

/** 16 lowercase hex characters. */
std::string span_id_hex(SpanId id);
/** Appends 16 lowercase hex characters of v. */
void append_hex64(std::string& out, std::uint64_t v);

/**
 * Random ids from a per-thread xoshiro256** generator, seeded from one getrandom() per
 * process (re-seeded in a forked child) mixed with a per-thread counter: no syscall, lock
 * or allocation per id. Thread-safe.
 */
TraceId new_trace_id();
SpanId new_span_id();

/** The daemon's decision (daemon/assembly/sampling.cpp): same id and rate, same answer. */
bool sampled_in(const TraceId& id, double sample_rate);

}  // namespace tracecol::client
