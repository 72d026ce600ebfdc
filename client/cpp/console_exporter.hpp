#pragma once
// The console exporter: each ended trace as the seed prints it.

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/cpp/exporter.hpp"

namespace tracecol::client {

/**
 * Collects a trace's spans and, when it ends, writes the seed's format to `fd`:
 * `[Trace 3a7f1c2b] run_id=run-42`, then one line per span in tree order, two spaces a
 * level, `name [142ms]`, ` ERROR: message` on a failed span. Thread-safe. Meant for
 * development: it formats and writes on the thread that ends the trace.
 */
class ConsoleExporter final : public SpanExporter {
 public:
  explicit ConsoleExporter(int fd = 1) : fd_(fd) {}
  void export_span(const SpanRecord& span) noexcept override;
  void end_trace(const TraceId& trace_id, const std::string& run_id) noexcept override;

  /** The text printed for one trace (also what tests compare). */
  static std::string format(const TraceId& trace_id, const std::string& run_id, std::vector<SpanRecord> spans);

 private:
  struct IdHash {
    std::size_t operator()(const TraceId& id) const noexcept { return static_cast<std::size_t>(id.hi ^ id.lo); }
  };
  int fd_;
  std::mutex mu_;
  std::unordered_map<TraceId, std::vector<SpanRecord>, IdHash> open_;
};

}  // namespace tracecol::client
