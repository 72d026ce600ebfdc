#pragma once
// The seed's InMemoryTraceExporter: keeps every exported trace (and span) in memory.
// The test double for everything downstream of the assembler.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "daemon/export/exporter.hpp"

namespace tracecol::exporters {

struct MemoryExporterOptions {
  bool wants_spans = false;  // also receive publish_spans() spans
};

/**
 * Stores a copy of each exported trace. Thread-safe: the fan-out's worker writes while
 * tests read from any thread; readers get copies of the vectors (the traces themselves
 * are shared and immutable).
 */
class InMemoryTraceExporter final : public Exporter {
 public:
  InMemoryTraceExporter() = default;
  explicit InMemoryTraceExporter(MemoryExporterOptions options) : want_spans_(options.wants_spans) {}
  /** want_spans: also receive publish_spans() spans (shorthand for the options form). */
  explicit InMemoryTraceExporter(bool want_spans) : want_spans_(want_spans) {}

  std::string_view name() const override { return "memory"; }
  ExportStatus export_trace(const protocol::Trace& trace) override;
  ExportStatus export_span(const protocol::Span& span) override;
  bool wants_spans() const override { return want_spans_; }
  void flush() override;
  void reopen() override;

  std::vector<TracePtr> traces() const;
  std::vector<SpanPtr> spans() const;
  std::size_t trace_count() const;
  std::size_t flush_count() const;
  std::size_t reopen_count() const;
  void clear();

  /** Blocks until at least n traces were exported or the deadline passed; true if reached. */
  bool wait_for_traces(std::size_t n, std::chrono::steady_clock::time_point deadline) const;
  /** Blocks until reopen() was called at least n times or the deadline passed. */
  bool wait_for_reopens(std::size_t n, std::chrono::steady_clock::time_point deadline) const;

 private:
  const bool want_spans_ = false;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<TracePtr> traces_;
  std::vector<SpanPtr> spans_;
  std::size_t flushes_ = 0;
  std::size_t reopens_ = 0;
};

}  // namespace tracecol::exporters
