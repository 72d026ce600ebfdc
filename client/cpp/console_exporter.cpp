#include "client/cpp/console_exporter.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <unordered_set>

namespace tracecol::client {

void ConsoleExporter::export_span(const SpanRecord& span) noexcept {
  try {
    std::lock_guard lk(mu_);
    open_[span.trace_id].push_back(span);
  } catch (...) {
  }
}

void ConsoleExporter::end_trace(const TraceId& trace_id, const std::string& run_id) noexcept {
  try {
    std::vector<SpanRecord> spans;
    {
      std::lock_guard lk(mu_);
      auto it = open_.find(trace_id);
      if (it != open_.end()) {
        spans = std::move(it->second);
        open_.erase(it);
      }
    }
    const std::string text = format(trace_id, run_id, std::move(spans));
    std::lock_guard lk(mu_);  // one trace's lines stay together
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  } catch (...) {
  }
}

std::string ConsoleExporter::format(const TraceId& trace_id, const std::string& run_id, std::vector<SpanRecord> spans) {
  std::string out = "[Trace " + trace_id.hex().substr(0, 8) + "]";
  if (!run_id.empty()) out += " run_id=" + run_id;
  out += '\n';
  std::sort(spans.begin(), spans.end(),
            [](const SpanRecord& a, const SpanRecord& b) { return a.started_at_ns < b.started_at_ns; });
  std::unordered_set<SpanId> ids;
  for (const SpanRecord& s : spans) ids.insert(s.span_id);
  // Roots: no parent, or a parent this trace never exported (shown at the root).
  std::vector<std::pair<std::size_t, int>> stack;
  for (std::size_t i = spans.size(); i-- > 0;)
    if (spans[i].parent_id == 0 || ids.count(spans[i].parent_id) == 0) stack.push_back({i, 0});
  std::vector<bool> shown(spans.size(), false);
  while (!stack.empty()) {
    const auto [i, depth] = stack.back();
    stack.pop_back();
    if (shown[i]) continue;
    shown[i] = true;
    const SpanRecord& s = spans[i];
    out.append(static_cast<std::size_t>(depth) * 2, ' ');
    out += s.name;
    char buf[40];
    std::snprintf(buf, sizeof buf, " [%.0fms]", std::round(s.duration_ms()));
    out += buf;
    if (s.error) out += " ERROR: " + *s.error;
    out += '\n';
    for (std::size_t j = spans.size(); j-- > 0;)
      if (spans[j].parent_id == s.span_id && j != i) stack.push_back({j, depth + 1});
  }
  return out;
}

}  // namespace tracecol::client
