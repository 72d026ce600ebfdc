#include "daemon/http/metrics.hpp"

#include "protocol/reject_reason.hpp"

namespace tracecol::http {
namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(std::to_string(value)).append("\n");
}

void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
  family(out, name, type, help);
  sample(out, name, {}, value);
}

}  // namespace

void RequestCounters::add(std::string_view route, unsigned code) {
  std::lock_guard lock(mutex_);
  ++counts_[{std::string(route), code}];
}

std::vector<std::pair<std::pair<std::string, unsigned>, std::uint64_t>> RequestCounters::snapshot() const {
  std::lock_guard lock(mutex_);
  return {counts_.begin(), counts_.end()};
}

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

MetricsSnapshot read_metrics(const MetricsSources& s, const RequestCounters& requests) {
  MetricsSnapshot m;
  if (s.ingest) {
    const auto& c = *s.ingest;
    m.lines_received = c.lines_received.load(std::memory_order_relaxed);
    m.events_accepted = c.events_accepted.load(std::memory_order_relaxed);
    m.partial_lines_dropped = c.partial_lines_dropped.load(std::memory_order_relaxed);
    m.connections_active = c.connections_active.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < c.rejected.size(); ++i) {
      m.lines_rejected.emplace_back(std::string(protocol::to_string(static_cast<protocol::RejectReason>(i))),
                                    c.rejected[i].load(std::memory_order_relaxed));
    }
  }
  if (s.assembler) {
    const auto a = s.assembler();
    m.traces_completed = a.traces_completed;
    m.traces_timed_out = a.traces_timed_out;
  }
  if (s.store) {
    const auto st = s.store();
    m.traces_evicted = st.evicted_max_traces + st.evicted_max_bytes;
    m.store_traces = st.traces;
    m.store_bytes = st.bytes;
    m.store_spans = st.spans;
  }
  if (s.exporters) m.exporters = s.exporters();
  m.http_requests = requests.snapshot();
  return m;
}

std::string format_prometheus(const MetricsSnapshot& m) {
  std::string out;
  out.reserve(4096);
  single(out, "tracecol_lines_received_total", "counter", "Non-blank protocol lines received.", m.lines_received);
  single(out, "tracecol_events_accepted_total", "counter", "Event lines applied by the assembler.", m.events_accepted);
  family(out, "tracecol_lines_rejected_total", "counter", "Lines rejected, by reason.");
  for (const auto& [reason, n] : m.lines_rejected) {
    sample(out, "tracecol_lines_rejected_total", "reason=\"" + escape_label(reason) + "\"", n);
  }
  single(out, "tracecol_partial_lines_dropped_total", "counter", "Unterminated lines dropped at EOF.",
         m.partial_lines_dropped);
  single(out, "tracecol_connections_active", "gauge", "Agent socket connections open now.", m.connections_active);
  single(out, "tracecol_traces_completed_total", "counter", "Traces completed by trace_end, trace or linger.",
         m.traces_completed);
  single(out, "tracecol_traces_timed_out_total", "counter", "Traces exported incomplete after the idle timeout.",
         m.traces_timed_out);
  single(out, "tracecol_traces_evicted_total", "counter", "Traces evicted from the store.", m.traces_evicted);
  single(out, "tracecol_store_traces", "gauge", "Traces held in the store.", m.store_traces);
  single(out, "tracecol_store_bytes", "gauge", "Approximate bytes held in the store.", m.store_bytes);
  single(out, "tracecol_store_spans", "gauge", "Spans held in the store.", m.store_spans);
  struct Column {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t exporters::ExporterCounters::*member;
  };
  const Column columns[] = {
      {"tracecol_exporter_sent_traces_total", "counter", "Traces an exporter wrote.",
       &exporters::ExporterCounters::traces_sent},
      {"tracecol_exporter_dropped_traces_total", "counter", "Traces dropped (queue full or stopped).",
       &exporters::ExporterCounters::traces_dropped},
      {"tracecol_exporter_failed_traces_total", "counter", "Traces an exporter gave up on.",
       &exporters::ExporterCounters::traces_failed},
      {"tracecol_exporter_queue_depth", "gauge", "Traces waiting for an exporter.",
       &exporters::ExporterCounters::queue_depth},
  };
  for (const Column& col : columns) {
    family(out, col.name, col.type, col.help);
    for (const auto& e : m.exporters) {
      sample(out, col.name, "exporter=\"" + escape_label(e.name) + "\"", e.*col.member);
    }
  }
  family(out, "tracecol_http_requests_total", "counter", "HTTP API requests answered, by route and status.");
  for (const auto& [key, n] : m.http_requests) {
    sample(out, "tracecol_http_requests_total",
           "route=\"" + escape_label(key.first) + "\",code=\"" + std::to_string(key.second) + "\"", n);
  }
  return out;
}

}  // namespace tracecol::http
