#pragma once
// /metrics: the daemon's counters in the Prometheus text format 0.0.4, and the HTTP
// server's own per-route request counts.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/assembly/assembler.hpp"
#include "daemon/export/fan_out.hpp"
#include "daemon/http/access_refusal.hpp"
#include "daemon/http/stream_hub.hpp"
#include "daemon/ingest/ingest_counters.hpp"
#include "daemon/store/trace_store.hpp"
#include "protocol/reject_reason.hpp"

namespace tracecol::http {

/** tracecol_http_requests_total{route,code}. Thread-safe (one mutex; a request adds once). */
class RequestCounters {
 public:
  void add(std::string_view route, unsigned code);
  /** ((route, code), count), sorted. */
  std::vector<std::pair<std::pair<std::string, unsigned>, std::uint64_t>> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t> counts_;
};

/** Why a whole POST /v1/traces was refused before any span was read: a fixed label set. */
enum class OtlpRequestReject : std::uint8_t {
  unsupported_content,  // 415: protobuf, another media type or Content-Encoding
  too_large,            // 413: over --http-max-body after gzip inflation
  corrupt_gzip,         // 400
  invalid_body,         // 400: not an ExportTraceServiceRequest (not JSON, too deep, ...)
  count_
};
std::string_view to_string(OtlpRequestReject reason);

/**
 * What the HTTP server counts about itself: relaxed atomics, any thread. OTLP span
 * rejections are by a bounded reason: "invalid_span" (the OTLP decoder refused it) or
 * the pipeline's protocol::RejectReason (too_many_spans, bad_time).
 */
struct ServerCounters {
  using Counter = std::atomic<std::uint64_t>;
  static constexpr std::size_t reject_reasons = static_cast<std::size_t>(protocol::RejectReason::count_);

  Counter connections_active{0};
  Counter connections_total{0};    // every accepted connection, the refused ones included
  Counter connections_refused{0};  // over --http-max-connections: answered 503 and closed (probes are served)
  Counter timeouts{0};             // connections cut by the request or idle timeout
  std::array<Counter, access_refusal_count> access_denied{};  // requests the access policy refused, by reason
  Counter otlp_spans_received{0};  // spans in POST /v1/traces bodies that decoded, rejected ones included
  Counter otlp_spans_invalid{0};   // refused by the OTLP decoder (bad or missing ids, times, types)
  Counter otlp_lone_surrogates{0}; // escaped half surrogate pairs replaced by U+FFFD (a JS string cut in an emoji)
  std::array<Counter, reject_reasons> otlp_spans_refused{};  // refused by the pipeline, by reason
  std::array<Counter, static_cast<std::size_t>(OtlpRequestReject::count_)> otlp_requests_rejected{};

  void reject_request(OtlpRequestReject reason) {
    otlp_requests_rejected[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
};

/**
 * Where /metrics reads from: references and callbacks supplied by the daemon. Every
 * callback must be safe to call from any thread at any time while the server runs.
 */
struct MetricsSources {
  const ingest::IngestCounters* ingest = nullptr;
  std::function<assembly::AssemblerCounters()> assembler;
  std::function<store::StoreCounters()> store;
  std::function<std::vector<exporters::ExporterCounters>()> exporters;
  std::function<StreamCounters()> stream;  // GET /api/stream's hub (absent: both read 0)
  std::function<std::uint64_t()> line_buffer_bytes;  // the agents' LineBudget held now (absent: 0)
};

/** Plain values read from the sources once per scrape (so the formatter is testable). */
struct MetricsSnapshot {
  std::uint64_t lines_received = 0;
  std::uint64_t events_accepted = 0;
  std::vector<std::pair<std::string, std::uint64_t>> lines_rejected;  // (reason, count), every reason
  std::uint64_t partial_lines_dropped = 0;
  std::uint64_t control_lines = 0;  // flush / hello: received, neither accepted nor rejected
  std::uint64_t blank_lines = 0;    // not in lines_received
  std::uint64_t connections_active = 0;
  std::uint64_t line_buffer_bytes = 0;
  std::uint64_t connections_refused = 0;  // agent connections over --max-connections
  std::uint64_t connections_denied = 0;   // agent peers not in --allow-uid / --allow-gid
  std::uint64_t traces_completed = 0;
  std::uint64_t traces_timed_out = 0;
  std::uint64_t traces_evicted_max_traces = 0;
  std::uint64_t traces_evicted_max_bytes = 0;
  std::uint64_t traces_sampled_out = 0;
  std::uint64_t spans_accepted = 0;      // new spans (late ones included), merges not
  std::uint64_t spans_merged = 0;
  std::uint64_t spans_late = 0;
  std::uint64_t spans_sampled_out = 0;
  std::uint64_t spans_published = 0;     // inside trace records handed to the exporters
  std::uint64_t span_updates_published = 0;   // follow-up copies of spans exported before
  std::uint64_t span_updates_sampled_out = 0;
  std::uint64_t spans_open = 0;          // gauge: in traces not exported yet
  std::uint64_t spans_stored = 0;        // ever added to the store
  std::uint64_t spans_evicted_max_traces = 0;
  std::uint64_t spans_evicted_max_bytes = 0;
  std::uint64_t store_traces = 0;
  std::uint64_t store_bytes = 0;
  std::uint64_t store_json_cache_traces = 0;  // GET /api/traces/{id} records cached (StoreCounters::json_cache_*)
  std::uint64_t store_json_cache_bytes = 0;
  std::uint64_t store_json_cache_hits = 0;
  std::uint64_t store_json_cache_misses = 0;
  std::uint64_t store_spans = 0;
  std::vector<exporters::ExporterCounters> exporters;
  std::vector<std::pair<std::pair<std::string, unsigned>, std::uint64_t>> http_requests;
  std::uint64_t http_connections_active = 0;
  std::uint64_t http_connections_total = 0;
  std::uint64_t http_connections_refused = 0;
  std::uint64_t http_timeouts = 0;
  std::vector<std::pair<std::string, std::uint64_t>> http_access_denied;  // (reason, count), every reason
  std::uint64_t stream_subscribers = 0;
  std::uint64_t stream_dropped_slow_reader = 0;
  std::uint64_t otlp_spans_received = 0;
  std::uint64_t otlp_lone_surrogates = 0;
  std::vector<std::pair<std::string, std::uint64_t>> otlp_spans_rejected;     // (reason, count), a fixed set
  std::vector<std::pair<std::string, std::uint64_t>> otlp_requests_rejected;  // (reason, count), every reason
};

/** One scrape's values; server may be null (its families then read 0). */
MetricsSnapshot read_metrics(const MetricsSources& sources, const RequestCounters& requests,
                             const ServerCounters* server = nullptr);

/** The exposition text (HELP/TYPE lines, one sample per line, label values escaped). */
std::string format_prometheus(const MetricsSnapshot& m);

/** A Prometheus label value: backslash, double quote and newline escaped. */
std::string escape_label(std::string_view value);

}  // namespace tracecol::http
