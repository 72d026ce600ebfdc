#include "daemon/http/metrics.hpp"

#include <charconv>

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

/** Shortest text that reads back as the same double: "0.0005", "30" when fixed, else "1.25e-07". */
std::string number(double value, std::chars_format format = std::chars_format::general) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, format);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

/** One exporter's histogram: cumulative _bucket lines ending in le="+Inf", then _sum and _count. */
void histogram(std::string& out, std::string_view name, const std::string& labels,
               const exporters::LatencyHistogram& h) {
  std::uint64_t cumulative = 0;
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < h.buckets.size(); ++i) {
    cumulative += h.buckets[i];
    const std::string le = i < exporters::export_latency_bounds.size() ? number(exporters::export_latency_bounds[i], std::chars_format::fixed)
                                                                       : std::string("+Inf");
    sample(out, bucket, labels + ",le=\"" + le + "\"", cumulative);
  }
  out.append(name).append("_sum{").append(labels).append("} ").append(number(h.sum_seconds)).append("\n");
  sample(out, std::string(name) + "_count", labels, h.count);
}

std::uint64_t load(const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); }

}  // namespace

std::string_view to_string(OtlpRequestReject reason) {
  switch (reason) {
    case OtlpRequestReject::unsupported_content: return "unsupported_content";
    case OtlpRequestReject::too_large: return "too_large";
    case OtlpRequestReject::corrupt_gzip: return "corrupt_gzip";
    case OtlpRequestReject::invalid_body: return "invalid_body";
    case OtlpRequestReject::count_: break;
  }
  return "unknown";
}

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

MetricsSnapshot read_metrics(const MetricsSources& s, const RequestCounters& requests, const ServerCounters* server) {
  MetricsSnapshot m;
  if (s.ingest) {
    const auto& c = *s.ingest;
    m.lines_received = c.lines_received.load(std::memory_order_relaxed);
    m.events_accepted = c.events_accepted.load(std::memory_order_relaxed);
    m.partial_lines_dropped = c.partial_lines_dropped.load(std::memory_order_relaxed);
    m.connections_active = c.connections_active.load(std::memory_order_relaxed);
    m.connections_refused = c.connections_refused.load(std::memory_order_relaxed);
    m.connections_denied = c.connections_denied.load(std::memory_order_relaxed);
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
  if (s.stream) {
    const StreamCounters sc = s.stream();
    m.stream_subscribers = sc.subscribers;
    m.stream_dropped_slow_reader = sc.dropped_slow_reader;
  }
  m.http_requests = requests.snapshot();
  const ServerCounters none;
  const ServerCounters& c = server != nullptr ? *server : none;
  m.http_connections_active = load(c.connections_active);
  m.http_connections_total = load(c.connections_total);
  m.http_connections_refused = load(c.connections_refused);
  m.http_timeouts = load(c.timeouts);
  m.otlp_spans_received = load(c.otlp_spans_received);
  m.otlp_spans_rejected.emplace_back("invalid_span", load(c.otlp_spans_invalid));
  for (std::size_t i = 0; i < c.otlp_spans_refused.size(); ++i) {
    const auto reason = static_cast<protocol::RejectReason>(i);
    const std::uint64_t n = load(c.otlp_spans_refused[i]);
    // The one reason the pipeline gives today is always shown; others only once they occur.
    if (n > 0 || reason == protocol::RejectReason::too_many_spans)
      m.otlp_spans_rejected.emplace_back(std::string(protocol::to_string(reason)), n);
  }
  for (std::size_t i = 0; i < c.otlp_requests_rejected.size(); ++i) {
    m.otlp_requests_rejected.emplace_back(std::string(to_string(static_cast<OtlpRequestReject>(i))),
                                          load(c.otlp_requests_rejected[i]));
  }
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
  single(out, "tracecol_connections_refused_total", "counter", "Agent connections closed over --max-connections.",
         m.connections_refused);
  single(out, "tracecol_connections_denied_total", "counter",
         "Agent connections closed because the peer's uid/gid is not in --allow-uid / --allow-gid.",
         m.connections_denied);
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
      {"tracecol_exporter_retried_total", "counter", "Export attempts an exporter repeated after a failure.",
       &exporters::ExporterCounters::traces_retried},
  };
  for (const Column& col : columns) {
    family(out, col.name, col.type, col.help);
    for (const auto& e : m.exporters) {
      sample(out, col.name, "exporter=\"" + escape_label(e.name) + "\"", e.*col.member);
    }
  }
  family(out, "tracecol_export_latency_seconds", "histogram",
         "Seconds from a trace's publish to its exporter's export call returning.");
  for (const auto& e : m.exporters) {
    histogram(out, "tracecol_export_latency_seconds", "exporter=\"" + escape_label(e.name) + "\"", e.export_latency);
  }
  family(out, "tracecol_http_requests_total", "counter", "HTTP API requests answered, by route and status.");
  for (const auto& [key, n] : m.http_requests) {
    sample(out, "tracecol_http_requests_total",
           "route=\"" + escape_label(key.first) + "\",code=\"" + std::to_string(key.second) + "\"", n);
  }
  single(out, "tracecol_http_connections_active", "gauge", "HTTP API connections open now.",
         m.http_connections_active);
  single(out, "tracecol_http_connections_total", "counter",
         "HTTP API connections accepted, including those refused over the cap.", m.http_connections_total);
  single(out, "tracecol_http_connections_refused_total", "counter",
         "HTTP API connections answered 503 and closed over --http-max-connections.", m.http_connections_refused);
  single(out, "tracecol_http_timeouts_total", "counter",
         "HTTP API connections cut off by the request or idle timeout.", m.http_timeouts);
  single(out, "tracecol_http_stream_subscribers", "gauge", "GET /api/stream subscribers connected now.",
         m.stream_subscribers);
  family(out, "tracecol_http_stream_dropped_total", "counter",
         "GET /api/stream subscribers disconnected by the server, by reason.");
  sample(out, "tracecol_http_stream_dropped_total", "reason=\"slow_reader\"", m.stream_dropped_slow_reader);
  single(out, "tracecol_otlp_spans_received_total", "counter",
         "Spans in decodable POST /v1/traces bodies, rejected ones included.", m.otlp_spans_received);
  family(out, "tracecol_otlp_spans_rejected_total", "counter", "OTLP spans rejected, by reason.");
  for (const auto& [reason, n] : m.otlp_spans_rejected) {
    sample(out, "tracecol_otlp_spans_rejected_total", "reason=\"" + escape_label(reason) + "\"", n);
  }
  family(out, "tracecol_otlp_requests_rejected_total", "counter",
         "POST /v1/traces requests refused whole before any span was read, by reason.");
  for (const auto& [reason, n] : m.otlp_requests_rejected) {
    sample(out, "tracecol_otlp_requests_rejected_total", "reason=\"" + escape_label(reason) + "\"", n);
  }
  return out;
}

}  // namespace tracecol::http
