#pragma once
// The export latency histogram: one sample per trace, from its publish to the moment its
// exporter settled it (written, delivered, or failed for good). Plain values: each owner
// updates it under its own lock and copies it out.

#include <array>
#include <cstddef>
#include <cstdint>

namespace tracecol::exporters {

/** Upper bounds (seconds) of the export latency buckets; a last +Inf bucket is implied. */
inline constexpr std::array<double, 15> export_latency_bounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

struct LatencyHistogram {
  std::array<std::uint64_t, export_latency_bounds.size() + 1> buckets{};  // per bucket, not cumulative; last = +Inf
  std::uint64_t count = 0;
  double sum_seconds = 0;

  void record(double seconds) {
    std::size_t i = 0;
    while (i < export_latency_bounds.size() && seconds > export_latency_bounds[i]) ++i;
    ++buckets[i];
    ++count;
    sum_seconds += seconds;
  }
  void merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
    count += other.count;
    sum_seconds += other.sum_seconds;
  }
};

}  // namespace tracecol::exporters
