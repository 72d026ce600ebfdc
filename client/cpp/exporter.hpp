#pragma once
// The client-side exporter contract (the seed's TraceExporter, per span).

#include <chrono>
#include <string>

#include "client/cpp/span_record.hpp"

namespace tracecol::client {

/**
 * Receives each finished span and each trace's end. Called on the agent's threads, from
 * many at once: implementations are thread-safe, must not block for long and must not
 * throw (the methods are noexcept).
 */
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  /** A span finished (the seed's export_span). */
  virtual void export_span(const SpanRecord& span) noexcept = 0;
  /** Every span of the trace that will be exported has been passed to export_span. */
  virtual void end_trace(const TraceId& trace_id, const std::string& run_id) noexcept = 0;
  /** Waits up to `timeout` until what was exported is delivered; true when confirmed. */
  virtual bool flush(std::chrono::milliseconds /*timeout*/) noexcept { return true; }
};

}  // namespace tracecol::client
