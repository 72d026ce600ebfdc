#include "client/cpp/memory_exporter.hpp"

namespace tracecol::client {

void InMemoryExporter::export_span(const SpanRecord& span) noexcept {
  try {
    std::lock_guard lk(mu_);
    spans_.push_back(span);
  } catch (...) {
    // Out of memory in a test double: the span is lost, the agent goes on.
  }
}

void InMemoryExporter::end_trace(const TraceId& trace_id, const std::string& run_id) noexcept {
  try {
    std::lock_guard lk(mu_);
    TraceRecord t{trace_id, run_id, {}};
    for (const SpanRecord& s : spans_)
      if (s.trace_id == trace_id) t.spans.push_back(s);
    traces_.push_back(std::move(t));
  } catch (...) {
  }
}

std::vector<SpanRecord> InMemoryExporter::spans() const {
  std::lock_guard lk(mu_);
  return spans_;
}

std::vector<TraceRecord> InMemoryExporter::traces() const {
  std::lock_guard lk(mu_);
  return traces_;
}

void InMemoryExporter::clear() {
  std::lock_guard lk(mu_);
  spans_.clear();
  traces_.clear();
}

}  // namespace tracecol::client
