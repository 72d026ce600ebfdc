#pragma once
// The span and trace model of the agents' tracing layer (shared/seed), as the daemon
// stores it: ids as integers, times as Unix epoch nanoseconds, and the free-form JSON
// members (inputs, outputs, metadata) kept as the validated bytes they arrived as, so
// they are re-emitted, never re-serialized.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/ids.hpp"

namespace tracecol::protocol {

/** The seed's SpanKind values. */
enum class SpanKind : std::uint8_t { agent, tool, llm, chain, team, custom };
/** How many SpanKind values there are (custom is the last): the size of per-kind tables. */
inline constexpr std::size_t span_kind_count = static_cast<std::size_t>(SpanKind::custom) + 1;
/** kind as an index into a per-kind table; a value past custom (no decoder makes one) reads as custom. */
constexpr std::size_t span_kind_index(SpanKind kind) {
  const auto k = static_cast<std::size_t>(kind);
  return k < span_kind_count ? k : span_kind_count - 1;
}

/** "AGENT", "TOOL", ... as the seed spells them. */
std::string_view to_string(SpanKind kind);
/** Case-insensitive; nullopt for anything but the six names. */
std::optional<SpanKind> parse_span_kind(std::string_view text);

/** Which of a span's fields the wire carried; lets a second copy fill what the first lacked. */
enum SpanField : std::uint16_t {
  field_parent_id = 1u << 0,
  field_run_id = 1u << 1,
  field_name = 1u << 2,
  field_kind = 1u << 3,
  field_started_at = 1u << 4,
  field_ended_at = 1u << 5,
  field_inputs = 1u << 6,
  field_outputs = 1u << 7,
  field_error = 1u << 8,  // set only when error is a non-null string
  field_metadata = 1u << 9,
};

/**
 * Metadata keys the daemon adds to spans that came over the agents' socket: the connecting
 * process's pid and uid as the kernel reported them (SO_PEERCRED). Stored as Span fields
 * and rendered on output; an agent's own top-level members of these names are dropped at
 * ingest so the values can be trusted.
 */
inline constexpr std::string_view peer_pid_key = "peer.pid";
inline constexpr std::string_view peer_uid_key = "peer.uid";

struct Span {
  TraceId trace_id;
  SpanId span_id = 0;
  SpanId parent_id = 0;        // 0: a root span
  std::int64_t started_at_ns = 0;  // Unix epoch nanoseconds
  std::int64_t ended_at_ns = 0;    // 0 while the span is still open
  SpanKind kind = SpanKind::custom;
  std::uint16_t fields = 0;    // SpanField bits present on the wire
  bool orphan = false;         // parent never seen in this trace (set when the tree is built)
  bool late = false;           // arrived after its trace was exported
  bool has_peer = false;       // arrived over the agents' socket: peer_pid / peer_uid are set
  bool update = false;         // in a follow-up record: the new state of a span exported before (not a new span)
  std::int32_t peer_pid = 0;   // SO_PEERCRED of the connection (0: the agent is outside our pid namespace)
  std::uint32_t peer_uid = 0;  // rendered into metadata as "peer.pid" / "peer.uid" on output
  std::string run_id;
  std::string name;
  std::string inputs = "{}";   // a JSON object, validated, as received (after redaction)
  std::string outputs;         // a JSON object or null as received; empty when absent
  std::string error;           // meaningful when fields & field_error
  std::string metadata = "{}"; // a JSON object, validated, as received (after redaction)

  bool has(SpanField f) const { return (fields & f) != 0; }
  bool ended() const { return ended_at_ns != 0; }
  bool has_error() const { return has(field_error); }
  /** Computed from the times, never trusted from the wire; nullopt while open. */
  std::optional<double> duration_ms() const;
  /** Approximate bytes this span holds (struct + heap), for the store's byte bound. */
  std::size_t footprint() const;
};

/**
 * One agent run's spans. Spans are kept in arrival order; tree order is computed on
 * output (see trace_tree.hpp). A trace is mutable only while its owner (the assembler)
 * has not exported it; an exported trace is shared as shared_ptr<const Trace> and never
 * changed again.
 */
struct Trace {
  TraceId trace_id;
  std::string run_id;
  bool complete = false;   // ended by a completion rule (false: idle timeout, eviction, shutdown)
  bool follow_up = false;  // holds only the late spans of an already exported trace
  std::vector<Span> spans;

  std::int64_t started_at_ns() const;  // earliest span start; 0 when empty
  std::int64_t ended_at_ns() const;    // latest span end; 0 when any span is open or empty
  std::size_t error_count() const;
};

}  // namespace tracecol::protocol
