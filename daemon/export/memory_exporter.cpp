#include "daemon/export/memory_exporter.hpp"

#include <memory>

namespace tracecol::exporters {

ExportStatus InMemoryTraceExporter::export_trace(const protocol::Trace& trace) {
  auto copy = std::make_shared<const protocol::Trace>(trace);
  {
    std::lock_guard lock(mu_);
    traces_.push_back(std::move(copy));
  }
  changed_.notify_all();
  return ExportStatus::ok;
}

ExportStatus InMemoryTraceExporter::export_span(const protocol::Span& span) {
  auto copy = std::make_shared<const protocol::Span>(span);
  {
    std::lock_guard lock(mu_);
    spans_.push_back(std::move(copy));
  }
  changed_.notify_all();
  return ExportStatus::ok;
}

void InMemoryTraceExporter::flush() {
  {
    std::lock_guard lock(mu_);
    ++flushes_;
  }
  changed_.notify_all();
}

void InMemoryTraceExporter::reopen() {
  {
    std::lock_guard lock(mu_);
    ++reopens_;
  }
  changed_.notify_all();
}

std::vector<TracePtr> InMemoryTraceExporter::traces() const {
  std::lock_guard lock(mu_);
  return traces_;
}

std::vector<SpanPtr> InMemoryTraceExporter::spans() const {
  std::lock_guard lock(mu_);
  return spans_;
}

std::size_t InMemoryTraceExporter::trace_count() const {
  std::lock_guard lock(mu_);
  return traces_.size();
}

std::size_t InMemoryTraceExporter::flush_count() const {
  std::lock_guard lock(mu_);
  return flushes_;
}

std::size_t InMemoryTraceExporter::reopen_count() const {
  std::lock_guard lock(mu_);
  return reopens_;
}

void InMemoryTraceExporter::clear() {
  std::lock_guard lock(mu_);
  traces_.clear();
  spans_.clear();
}

bool InMemoryTraceExporter::wait_for_traces(std::size_t n,
                                            std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return changed_.wait_until(lock, deadline, [&] { return traces_.size() >= n; });
}

bool InMemoryTraceExporter::wait_for_reopens(std::size_t n,
                                             std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return changed_.wait_until(lock, deadline, [&] { return reopens_ >= n; });
}

}  // namespace tracecol::exporters
