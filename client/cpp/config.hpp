#pragma once
// TracingConfig: the seed's knobs (enabled, sample_rate, include_inputs, include_outputs)
// plus where and how the socket exporter sends.

#include <chrono>
#include <cstddef>
#include <string>

namespace tracecol::client {

/** The daemon's default socket, used when neither the config nor TRACECOL_SOCKET names one. */
inline constexpr const char* default_socket_path = "/tmp/tracecol.sock";

/** $TRACECOL_SOCKET when set and non-empty, else default_socket_path. */
std::string socket_path_from_env();

/**
 * Plain settings, read once when a Tracer or exporter is built. Defaults follow the seed
 * (`enabled = false` is its master switch: a Tracer built with it off records nothing and
 * costs a branch per span).
 */
struct TracingConfig {
  bool enabled = false;          // master switch (seed default)
  double sample_rate = 1.0;      // fraction of traces exported, decided from the trace id as the daemon does
  bool include_inputs = true;    // false: inputs sent as {}
  bool include_outputs = true;   // false: outputs not sent
  /** Empty: socket_path_from_env() at construction. */
  std::string socket_path;
  /** Bytes queued but not yet written (pending plus the batch in flight); beyond it spans are dropped and counted. */
  std::size_t max_buffered_bytes = 8u << 20;
  /** Lines queued but not yet written; beyond it spans are dropped and counted. */
  std::size_t max_buffered_spans = 65536;
  /** The writer sends at least this often while something is queued. */
  std::chrono::milliseconds batch_interval{5};
  /** Queued bytes that wake the writer before batch_interval passes. */
  std::size_t batch_bytes = 64u << 10;
  /** Reconnect backoff while the daemon is away: doubles from min to max. */
  std::chrono::milliseconds reconnect_min{10};
  std::chrono::milliseconds reconnect_max{1000};
  /** How long destruction waits for the daemon to confirm what was queued. */
  std::chrono::milliseconds shutdown_timeout{2000};
  /** Spans an unsampled trace holds back, in case one of them fails (errors are always exported). */
  std::size_t max_held_spans_per_trace = 1000;
  /** Sent in the `hello` line of each connection (may be empty). */
  std::string service_name;
};

}  // namespace tracecol::client
