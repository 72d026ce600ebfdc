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
    m.control_lines = c.control_lines.load(std::memory_order_relaxed);
    m.blank_lines = c.lines_blank.load(std::memory_order_relaxed);
    m.connections_active = c.connections_active.load(std::memory_order_relaxed);
    if (s.line_buffer_bytes) m.line_buffer_bytes = s.line_buffer_bytes();
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
    m.traces_sampled_out = a.traces_sampled_out;
    m.spans_accepted = a.spans_accepted;
    m.spans_merged = a.spans_merged;
    m.spans_late = a.spans_late;
    m.spans_sampled_out = a.spans_sampled_out;
    m.spans_published = a.spans_published;
    m.span_updates_published = a.span_updates_published;
    m.span_updates_sampled_out = a.span_updates_sampled_out;
    m.spans_open = a.spans_open;
  }
  if (s.store) {
    const auto st = s.store();
    m.traces_evicted_max_traces = st.evicted_max_traces;
    m.traces_evicted_max_bytes = st.evicted_max_bytes;
    m.spans_stored = st.spans_inserted;
    m.spans_evicted_max_traces = st.spans_evicted_max_traces;
    m.spans_evicted_max_bytes = st.spans_evicted_max_bytes;
    m.store_traces = st.traces;
    m.store_bytes = st.bytes;
    m.store_json_cache_traces = st.json_cache_traces;
    m.store_json_cache_bytes = st.json_cache_bytes;
    m.store_json_cache_hits = st.json_cache_hits;
    m.store_json_cache_misses = st.json_cache_misses;
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
  m.otlp_lone_surrogates = load(c.otlp_lone_surrogates);
  m.otlp_spans_rejected.emplace_back("invalid_span", load(c.otlp_spans_invalid));
  for (std::size_t i = 0; i < c.otlp_spans_refused.size(); ++i) {
    const auto reason = static_cast<protocol::RejectReason>(i);
    const std::uint64_t n = load(c.otlp_spans_refused[i]);
    // too_many_spans, the pipeline's usual reason, is always shown; others only once they occur.
    if (n > 0 || reason == protocol::RejectReason::too_many_spans)
      m.otlp_spans_rejected.emplace_back(std::string(protocol::to_string(reason)), n);
  }
  for (std::size_t i = 0; i < c.access_denied.size(); ++i)
    m.http_access_denied.emplace_back(std::string(to_string(static_cast<AccessRefusal>(i))), load(c.access_denied[i]));
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
  single(out, "tracecol_control_lines_total", "counter",
         "flush and hello lines: received, neither accepted nor rejected.", m.control_lines);
  single(out, "tracecol_blank_lines_total", "counter", "Blank lines skipped (not in lines received).",
         m.blank_lines);
  single(out, "tracecol_connections_active", "gauge", "Agent socket connections open now.", m.connections_active);
  single(out, "tracecol_line_buffer_bytes", "gauge",
         "Buffer held now by agents' unfinished long lines (bounded by --max-line-buffer-bytes).", m.line_buffer_bytes);
  single(out, "tracecol_connections_refused_total", "counter", "Agent connections closed over --max-connections.",
         m.connections_refused);
  single(out, "tracecol_connections_denied_total", "counter",
         "Agent connections closed because the peer's uid/gid is not in --allow-uid / --allow-gid.",
         m.connections_denied);
  single(out, "tracecol_traces_completed_total", "counter", "Traces completed by trace_end, trace or linger.",
         m.traces_completed);
  single(out, "tracecol_traces_timed_out_total", "counter", "Traces exported incomplete after the idle timeout.",
         m.traces_timed_out);
  single(out, "tracecol_traces_sampled_out_total", "counter", "Trace records sampling left out of every exporter.",
         m.traces_sampled_out);
  family(out, "tracecol_traces_evicted_total", "counter", "Traces evicted from the store, by the bound that evicted them.");
  sample(out, "tracecol_traces_evicted_total", "reason=\"max_traces\"", m.traces_evicted_max_traces);
  sample(out, "tracecol_traces_evicted_total", "reason=\"max_bytes\"", m.traces_evicted_max_bytes);
  single(out, "tracecol_spans_accepted_total", "counter", "New spans added to a trace (late ones included; merges not).",
         m.spans_accepted);
  single(out, "tracecol_spans_merged_total", "counter", "Span copies and span_end lines merged into a known span.",
         m.spans_merged);
  single(out, "tracecol_spans_late_total", "counter", "Of the accepted spans, those that arrived after their trace was exported.",
         m.spans_late);
  single(out, "tracecol_spans_sampled_out_total", "counter", "Spans inside the trace records sampling left out.",
         m.spans_sampled_out);
  single(out, "tracecol_spans_published_total", "counter", "Spans inside the trace records handed to every exporter.",
         m.spans_published);
  single(out, "tracecol_span_updates_published_total", "counter",
         "Follow-up copies of spans exported before that changed since (a span_end after its trace timed out).",
         m.span_updates_published);
  single(out, "tracecol_span_updates_sampled_out_total", "counter",
         "Follow-up copies of changed spans inside the records sampling left out.", m.span_updates_sampled_out);
  single(out, "tracecol_spans_open", "gauge", "Spans in traces the assembler has not exported yet.", m.spans_open);
  single(out, "tracecol_spans_stored_total", "counter", "Spans ever added to the store.", m.spans_stored);
  family(out, "tracecol_spans_evicted_total", "counter", "Spans inside the traces evicted from the store, by bound.");
  sample(out, "tracecol_spans_evicted_total", "reason=\"max_traces\"", m.spans_evicted_max_traces);
  sample(out, "tracecol_spans_evicted_total", "reason=\"max_bytes\"", m.spans_evicted_max_bytes);
  single(out, "tracecol_store_traces", "gauge", "Traces held in the store.", m.store_traces);
  single(out, "tracecol_store_bytes", "gauge", "Approximate bytes held in the store.", m.store_bytes);
  single(out, "tracecol_store_json_cache_traces", "gauge", "Trace records cached for GET /api/traces/{id}.",
         m.store_json_cache_traces);
  single(out, "tracecol_store_json_cache_bytes", "gauge",
         "Bytes of those cached records (bounded apart from the store, at half its byte bound).",
         m.store_json_cache_bytes);
  single(out, "tracecol_store_json_cache_hits_total", "counter", "GET /api/traces/{id} answered from the cache.",
         m.store_json_cache_hits);
  single(out, "tracecol_store_json_cache_misses_total", "counter",
         "GET /api/traces/{id} of a completed trace that rendered its record.", m.store_json_cache_misses);
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
  // Spans end to end, per exporter: sent + dropped (every reason) + pending = published.
  const Column span_columns[] = {
      {"tracecol_exporter_published_spans_total", "counter",
       "Spans handed to an exporter: inside trace records, plus lone live spans.",
       &exporters::ExporterCounters::spans_published},
      {"tracecol_exporter_live_spans_total", "counter", "Of the published spans, lone spans of the live stream.",
       &exporters::ExporterCounters::lone_spans_published},
      {"tracecol_exporter_sent_spans_total", "counter", "Spans an exporter delivered.",
       &exporters::ExporterCounters::spans_sent},
      {"tracecol_exporter_pending_spans", "gauge", "Spans queued in or being exported by an exporter.",
       &exporters::ExporterCounters::spans_pending},
      {"tracecol_exporter_receiver_rejected_spans_total", "counter",
       "Of the sent spans, those the receiver's 2xx answer said it rejected (OTLP partialSuccess).",
       &exporters::ExporterCounters::spans_rejected_by_receiver},
  };
  for (const Column& col : span_columns) {
    family(out, col.name, col.type, col.help);
    for (const auto& e : m.exporters) {
      sample(out, col.name, "exporter=\"" + escape_label(e.name) + "\"", e.*col.member);
    }
  }
  family(out, "tracecol_exporter_dropped_spans_total", "counter", "Spans an exporter will never deliver, by reason.");
  for (const auto& e : m.exporters) {
    const std::string exporter = "exporter=\"" + escape_label(e.name) + "\",reason=";
    const std::uint64_t fan_out_dropped = e.spans_dropped_queue_full + e.spans_dropped_shutdown;
    sample(out, "tracecol_exporter_dropped_spans_total", exporter + "\"queue_full\"", e.spans_dropped_queue_full);
    sample(out, "tracecol_exporter_dropped_spans_total", exporter + "\"shutdown\"", e.spans_dropped_shutdown);
    sample(out, "tracecol_exporter_dropped_spans_total", exporter + "\"failed\"", e.spans_failed);
    sample(out, "tracecol_exporter_dropped_spans_total", exporter + "\"in_exporter\"",
           e.spans_dropped > fan_out_dropped ? e.spans_dropped - fan_out_dropped : 0);
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
  family(out, "tracecol_http_access_denied_total", "counter",
         "HTTP API requests refused by the access policy (Host, Sec-Fetch-Site, CORS, token), by reason.");
  for (const auto& [reason, n] : m.http_access_denied)
    sample(out, "tracecol_http_access_denied_total", "reason=\"" + escape_label(reason) + "\"", n);
  single(out, "tracecol_http_stream_subscribers", "gauge", "GET /api/stream subscribers connected now.",
         m.stream_subscribers);
  family(out, "tracecol_http_stream_dropped_total", "counter",
         "GET /api/stream subscribers disconnected by the server, by reason.");
  sample(out, "tracecol_http_stream_dropped_total", "reason=\"slow_reader\"", m.stream_dropped_slow_reader);
  single(out, "tracecol_otlp_spans_received_total", "counter",
         "Spans in decodable POST /v1/traces bodies, rejected ones included.", m.otlp_spans_received);
  single(out, "tracecol_otlp_lone_surrogates_replaced_total", "counter",
         "Escaped half surrogate pairs in POST /v1/traces bodies (a JS string cut inside an emoji) replaced by U+FFFD.",
         m.otlp_lone_surrogates);
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
