// tracectl bench: N connections of generated spans, then the daemon's flushed counts.

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client/cli/bench_load.hpp"
#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"

namespace tracecol::cli {

int run_bench(const CliOptions& options) {
  const BenchOptions& b = options.bench;
  const double rate = b.rate == "max" ? 0 : parse_rate(b.rate).value_or(0);  // checked by the parser
  std::random_device entropy;
  const std::uint64_t run_seed = (std::uint64_t{entropy()} << 32) ^ entropy();
  std::vector<LoadSpec> specs(b.connections);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    LoadSpec& s = specs[i];
    s.socket = options.global.socket;
    s.spans_per_trace = b.spans_per_trace;
    s.payload_bytes = b.payload_bytes;
    s.spans_per_second = rate / static_cast<double>(b.connections);
    s.duration = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(b.duration_s));
    // Under full load the daemon may take a while to apply a connection's backlog.
    s.timeout = std::max(timeout_of(options.global), std::chrono::milliseconds(30000));
    s.seed = run_seed + i;
  }
  std::vector<LoadResult> results(specs.size());
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < specs.size(); ++i) threads.emplace_back([&, i] { results[i] = run_load(specs[i]); });
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::uint64_t spans = 0, events = 0, bytes = 0, accepted = 0, rejected = 0;
  bool failed = false;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const LoadResult& r = results[i];
    spans += r.spans;
    events += r.events;
    bytes += r.bytes;
    if (r.flushed) {
      accepted += r.flushed->accepted;
      rejected += r.flushed->rejected;
      std::printf("connection %zu: sent %llu events (%llu spans), accepted %llu, rejected %llu%s%s\n", i,
                  static_cast<unsigned long long>(r.events), static_cast<unsigned long long>(r.spans),
                  static_cast<unsigned long long>(r.flushed->accepted),
                  static_cast<unsigned long long>(r.flushed->rejected), r.flushed->last_error.empty() ? "" : ", last error: ",
                  r.flushed->last_error.c_str());
      if (r.flushed->accepted != r.events) failed = true;
    } else {
      std::printf("connection %zu: sent %llu events, failed: %s\n", i, static_cast<unsigned long long>(r.events),
                  r.error.c_str());
      failed = true;
    }
  }
  std::printf("sent %llu spans (%llu events with trace_end, %.1f MB) in %.2f s: %.0f spans/s\n",
              static_cast<unsigned long long>(spans), static_cast<unsigned long long>(events),
              static_cast<double>(bytes) / 1e6, elapsed, static_cast<double>(spans) / elapsed);
  std::printf("daemon accepted %llu of %llu events, rejected %llu: %s\n", static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(rejected),
              failed ? "MISMATCH" : "ok");
  if (failed) {
    for (const LoadResult& r : results) {
      if (!r.error.empty()) {
        complain(r.error);
        break;
      }
    }
  }
  return failed ? exit_failure : exit_ok;
}

}  // namespace tracecol::cli
