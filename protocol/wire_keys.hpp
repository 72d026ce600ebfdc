#pragma once
// The member names wire protocol v1 reads, recognised once per key so the decoder
// dispatches with a switch and finds repeated known keys with a bit mask.

#include <cstdint>
#include <string_view>

namespace tracecol::protocol {

enum class WireKey : std::uint8_t {
  type,
  trace_id,
  span_id,
  parent_id,
  run_id,
  name,
  kind,
  started_at,
  ended_at,
  start_time_unix_nano,
  end_time_unix_nano,
  inputs,
  outputs,
  error,
  metadata,
  spans,
  id,
  version,
  client,
  service,
  unknown
};

constexpr std::uint32_t wire_bit(WireKey k) { return 1u << static_cast<unsigned>(k); }

/** Every member a span object may carry (in a span line or inside a trace's spans). */
constexpr std::uint32_t span_wire_keys =
    wire_bit(WireKey::trace_id) | wire_bit(WireKey::span_id) | wire_bit(WireKey::parent_id) |
    wire_bit(WireKey::run_id) | wire_bit(WireKey::name) | wire_bit(WireKey::kind) | wire_bit(WireKey::started_at) |
    wire_bit(WireKey::ended_at) | wire_bit(WireKey::start_time_unix_nano) | wire_bit(WireKey::end_time_unix_nano) |
    wire_bit(WireKey::inputs) | wire_bit(WireKey::outputs) | wire_bit(WireKey::error) | wire_bit(WireKey::metadata);

/** key: the decoded (unescaped) member name. */
inline WireKey classify_wire_key(std::string_view key) {
  switch (key.size()) {
    case 2:
      if (key == "id") return WireKey::id;
      break;
    case 4:
      if (key == "type") return WireKey::type;
      if (key == "name") return WireKey::name;
      if (key == "kind") return WireKey::kind;
      break;
    case 5:
      if (key == "error") return WireKey::error;
      if (key == "spans") return WireKey::spans;
      break;
    case 6:
      if (key == "run_id") return WireKey::run_id;
      if (key == "inputs") return WireKey::inputs;
      if (key == "client") return WireKey::client;
      break;
    case 7:
      if (key == "span_id") return WireKey::span_id;
      if (key == "outputs") return WireKey::outputs;
      if (key == "version") return WireKey::version;
      if (key == "service") return WireKey::service;
      break;
    case 8:
      if (key == "trace_id") return WireKey::trace_id;
      if (key == "ended_at") return WireKey::ended_at;
      if (key == "metadata") return WireKey::metadata;
      break;
    case 9:
      if (key == "parent_id") return WireKey::parent_id;
      break;
    case 10:
      if (key == "started_at") return WireKey::started_at;
      break;
    case 18:
      if (key == "end_time_unix_nano") return WireKey::end_time_unix_nano;
      break;
    case 20:
      if (key == "start_time_unix_nano") return WireKey::start_time_unix_nano;
      break;
    default:
      break;
  }
  return WireKey::unknown;
}

}  // namespace tracecol::protocol
