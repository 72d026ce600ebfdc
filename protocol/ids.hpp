#pragma once
// Trace and span identifiers: fixed-size integers, printed as lowercase hex.

#include <cstdint>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tracecol::protocol {

/** A 128-bit trace id; all-zero means "none" (OTLP calls an all-zero id invalid). */
struct TraceId {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;

  explicit operator bool() const { return hi != 0 || lo != 0; }
  friend bool operator==(const TraceId&, const TraceId&) = default;
  friend auto operator<=>(const TraceId&, const TraceId&) = default;

  /** 32 lowercase hex characters. */
  std::string hex() const;
  /** Appends the 32 hex characters to out (no allocation beyond out's growth). */
  void append_hex(std::string& out) const;
};

struct TraceIdHash {
  std::size_t operator()(const TraceId& id) const noexcept {
    // Trace ids are random already; mixing the halves is enough.
    return static_cast<std::size_t>(id.hi * 0x9E3779B97F4A7C15ULL ^ id.lo);
  }
};

/** A 64-bit span id; 0 means "none" (used for a root's parent_id). */
using SpanId = std::uint64_t;

/** 16 lowercase hex characters. */
std::string span_id_hex(SpanId id);
void append_span_id_hex(std::string& out, SpanId id);

/**
 * Parses 1..32 hex digits (either case; shorter input is left-padded with zeros).
 * Returns nullopt for empty, too long or non-hex input, and for the all-zero id.
 */
std::optional<TraceId> parse_trace_id(std::string_view hex);
/** Parses 1..16 hex digits like parse_trace_id; nullopt for invalid input or zero. */
std::optional<SpanId> parse_span_id(std::string_view hex);

}  // namespace tracecol::protocol

template <>
struct std::hash<tracecol::protocol::TraceId> : tracecol::protocol::TraceIdHash {};
