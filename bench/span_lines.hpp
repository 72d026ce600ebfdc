#pragma once
// The benchmark workload: ~600-byte span lines shaped like an LLM call, 50 per trace,
// each trace closed by trace_end. Shared so every bench measures the same bytes.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace tracecol::bench {

constexpr int spans_per_trace = 50;

/** One ~600-byte span line (no newline). */
inline std::string make_span_line(int trace, int span) {
  char parent[24] = "null";
  if (span != 0) std::snprintf(parent, sizeof parent, "\"%016x\"", trace * 1000 + 1);
  char buf[1024];
  const double start = 1732500000.0 + trace * 0.01 + span * 0.0001;
  const int n = std::snprintf(
      buf, sizeof buf,
      R"({"type":"span","trace_id":"%032x","span_id":"%016x","parent_id":%s,)"
      R"("run_id":"run-%d","name":"llm.complete","kind":"LLM","started_at":%.6f,"ended_at":%.6f,)"
      R"("inputs":{"prompt":"Summarise the quarterly report for the board in three bullet points, )"
      R"(citing the revenue table and the churn figures.","temperature":0.2,"max_tokens":512},)"
      R"("outputs":{"text":"- Revenue grew 12%% quarter on quarter, led by enterprise renewals.\n)"
      R"(- Churn fell to 2.1%%.\n- Hiring stays flat.","finish_reason":"stop"},"error":null,)"
      R"("metadata":{"model":"gpt-4o-mini","prompt_tokens":182,"completion_tokens":41,"attempt":1}})",
      trace + 1, trace * 1000 + span + 1, parent, trace % 97, start, start + 0.05);
  return std::string(buf, static_cast<std::size_t>(n));
}

/** traces x spans_per_trace span lines plus one trace_end per trace, newline-terminated. */
inline std::string make_stream(int first_trace, int traces, std::size_t* span_lines, std::size_t* span_bytes) {
  std::string out;
  for (int t = first_trace; t < first_trace + traces; ++t) {
    for (int s = 0; s < spans_per_trace; ++s) {
      std::string line = make_span_line(t, s);
      *span_bytes += line.size() + 1;
      ++*span_lines;
      out += line;
      out += '\n';
    }
    char end[96];
    std::snprintf(end, sizeof end, R"({"type":"trace_end","trace_id":"%032x"})" "\n", t + 1);
    out += end;
  }
  return out;
}

/**
 * One trace's lines with its trace id patched in: a memcpy per trace instead of a
 * snprintf per line (the senders of bench/http_query and bench/overload).
 */
class TraceTemplate {
 public:
  TraceTemplate() {
    std::size_t lines = 0, bytes = 0;
    text_ = make_stream(0, 1, &lines, &bytes);
    spans_ = lines;
    const std::string key = "\"trace_id\":\"";
    for (std::size_t at = text_.find(key); at != std::string::npos; at = text_.find(key, at + 1))
      offsets_.push_back(at + key.size());
  }
  void append(std::string& out, unsigned long long id) const {
    const std::size_t at = out.size();
    out += text_;
    char hex[40];
    std::snprintf(hex, sizeof hex, "%032llx", id);
    for (std::size_t o : offsets_) std::memcpy(&out[at + o], hex, 32);
  }
  std::size_t spans() const { return spans_; }      // span lines per trace
  std::size_t lines() const { return spans_ + 1; }  // and its trace_end
  std::size_t bytes() const { return text_.size(); }

 private:
  std::string text_;
  std::vector<std::size_t> offsets_;
  std::size_t spans_ = 0;
};

}  // namespace tracecol::bench
