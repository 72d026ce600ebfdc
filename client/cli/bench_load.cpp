#include "client/cli/bench_load.hpp"

#include <cinttypes>
#include <cstdio>
#include <thread>

namespace tracecol::cli {
namespace {

using clock = std::chrono::steady_clock;
constexpr std::size_t write_bytes = 64 * 1024;

std::uint64_t mix(std::uint64_t x) {
  // splitmix64: distinct seeds give distinct, well-spread ids.
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::size_t append_bench_trace(std::string& out, std::uint64_t trace_hi, std::uint64_t trace_lo,
                               std::size_t spans_per_trace, const std::string& payload, double start_s) {
  char trace_id[40];
  std::snprintf(trace_id, sizeof trace_id, "%016" PRIx64 "%016" PRIx64, trace_hi, trace_lo);
  char buf[512];
  for (std::size_t i = 0; i < spans_per_trace; ++i) {
    const double started = start_s + 0.000001 * static_cast<double>(i);
    const int n = std::snprintf(buf, sizeof buf,
                                "{\"type\":\"span\",\"trace_id\":\"%s\",\"span_id\":\"%zx\",%s\"run_id\":\"bench\","
                                "\"name\":\"%s\",\"kind\":\"%s\",\"started_at\":%.6f,\"ended_at\":%.6f,"
                                "\"inputs\":{\"payload\":\"",
                                trace_id, i + 1, i == 0 ? "" : "\"parent_id\":\"1\",", i == 0 ? "bench.run" : "bench.step",
                                i == 0 ? "AGENT" : "TOOL", started, started + 0.001);
    out.append(buf, static_cast<std::size_t>(n));
    out += payload;
    out += "\"}}\n";
  }
  out += "{\"type\":\"trace_end\",\"trace_id\":\"";
  out += trace_id;
  out += "\"}\n";
  return spans_per_trace;
}

LoadResult run_load(const LoadSpec& spec) {
  LoadResult result;
  SocketClient client;
  if (!client.connect(spec.socket)) {
    result.error = client.error();
    return result;
  }
  const std::string payload(spec.payload_bytes, 'x');
  std::string buffer;
  buffer.reserve(write_bytes * 2);
  const auto start = clock::now();
  const auto stop = start + spec.duration;
  const std::uint64_t hi = mix(spec.seed);
  std::uint64_t trace_no = 0;
  auto send = [&]() {
    if (buffer.empty()) return true;
    if (!client.write_all(buffer, spec.timeout)) return false;
    result.bytes += buffer.size();
    buffer.clear();
    return true;
  };
  for (auto now = start; now < stop; now = clock::now()) {
    if (spec.spans_per_second > 0) {
      const auto due = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(
                                   static_cast<double>(result.spans) / spec.spans_per_second));
      if (due > now) {
        if (!send()) break;
        std::this_thread::sleep_until(std::min(due, stop));
        if (clock::now() >= stop) break;
      }
    }
    result.spans += append_bench_trace(buffer, hi, mix(hi ^ ++trace_no), spec.spans_per_trace, payload, epoch_seconds());
    result.events += spec.spans_per_trace + 1;
    if (buffer.size() >= write_bytes && !send()) break;
  }
  if (!send()) {
    result.error = client.error();
    return result;
  }
  result.flushed = client.flush(1, spec.timeout);
  if (!result.flushed) result.error = client.error();
  return result;
}

}  // namespace tracecol::cli
