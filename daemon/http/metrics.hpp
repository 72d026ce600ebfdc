#pragma once
// /metrics: the daemon's counters in the Prometheus text format 0.0.4, and the HTTP
// server's own per-route request counts.

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
#include "daemon/ingest/ingest_counters.hpp"
#include "daemon/store/trace_store.hpp"

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

/**
 * Where /metrics reads from: references and callbacks supplied by the daemon. Every
 * callback must be safe to call from any thread at any time while the server runs.
 */
struct MetricsSources {
  const ingest::IngestCounters* ingest = nullptr;
  std::function<assembly::AssemblerCounters()> assembler;
  std::function<store::StoreCounters()> store;
  std::function<std::vector<exporters::ExporterCounters>()> exporters;
};

/** Plain values read from the sources once per scrape (so the formatter is testable). */
struct MetricsSnapshot {
  std::uint64_t lines_received = 0;
  std::uint64_t events_accepted = 0;
  std::vector<std::pair<std::string, std::uint64_t>> lines_rejected;  // (reason, count), every reason
  std::uint64_t partial_lines_dropped = 0;
  std::uint64_t connections_active = 0;
  std::uint64_t traces_completed = 0;
  std::uint64_t traces_timed_out = 0;
  std::uint64_t traces_evicted = 0;
  std::uint64_t store_traces = 0;
  std::uint64_t store_bytes = 0;
  std::uint64_t store_spans = 0;
  std::vector<exporters::ExporterCounters> exporters;
  std::vector<std::pair<std::pair<std::string, unsigned>, std::uint64_t>> http_requests;
};

MetricsSnapshot read_metrics(const MetricsSources& sources, const RequestCounters& requests);

/** The exposition text (HELP/TYPE lines, one sample per line, label values escaped). */
std::string format_prometheus(const MetricsSnapshot& m);

/** A Prometheus label value: backslash, double quote and newline escaped. */
std::string escape_label(std::string_view value);

}  // namespace tracecol::http
