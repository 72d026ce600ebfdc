#pragma once
// The in-memory exporter: the test double (the seed's InMemoryTraceExporter).

#include <mutex>
#include <string>
#include <vector>

#include "client/cpp/exporter.hpp"

namespace tracecol::client {

/** A finished trace as the in-memory exporter keeps it (the seed's Trace). */
struct TraceRecord {
  TraceId trace_id;
  std::string run_id;
  std::vector<SpanRecord> spans;  // in finish order
};

/** Keeps every finished span and every ended trace in memory. Thread-safe; accessors return copies. */
class InMemoryExporter final : public SpanExporter {
 public:
  void export_span(const SpanRecord& span) noexcept override;
  void end_trace(const TraceId& trace_id, const std::string& run_id) noexcept override;

  /** Every exported span, in finish order. */
  std::vector<SpanRecord> spans() const;
  /** Every ended trace, in end order, with its spans (the seed's `exporter.traces`). */
  std::vector<TraceRecord> traces() const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<SpanRecord> spans_;
  std::vector<TraceRecord> traces_;
};

}  // namespace tracecol::client
