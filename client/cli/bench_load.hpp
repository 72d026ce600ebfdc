#pragma once
// The load tracectl bench generates: span lines built into one large buffer per write,
// paced to a rate or as fast as the socket takes them, over one connection per thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "client/cli/socket_client.hpp"

namespace tracecol::cli {

struct LoadSpec {
  std::string socket;
  std::size_t spans_per_trace = 10;
  std::size_t payload_bytes = 100;
  double spans_per_second = 0;  // this connection's share; 0 = as fast as possible
  std::chrono::steady_clock::duration duration = std::chrono::seconds(5);
  std::chrono::milliseconds timeout{10000};  // a stalled write, and the final flush
  std::uint64_t seed = 1;                    // makes this connection's trace ids unique
};

struct LoadResult {
  std::uint64_t spans = 0;        // span lines sent
  std::uint64_t events = 0;       // event lines sent (spans + trace_end)
  std::uint64_t bytes = 0;
  std::optional<Flushed> flushed;
  std::string error;              // set when the connection failed
};

/** Appends one trace (spans_per_trace span lines, then trace_end) to out; returns its span count. */
std::size_t append_bench_trace(std::string& out, std::uint64_t trace_hi, std::uint64_t trace_lo,
                               std::size_t spans_per_trace, const std::string& payload, double start_s);

/** Runs one connection's load to the end, then flushes. Blocking; call from its own thread. */
LoadResult run_load(const LoadSpec& spec);

}  // namespace tracecol::cli
