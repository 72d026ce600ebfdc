#include <doctest/doctest.h>

#include "daemon/http/metrics.hpp"

using namespace tracecol;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

TEST_SUITE("http metrics") {
  TEST_CASE("formats every family in the Prometheus text format with its values") {
    ingest::IngestCounters ingest;
    ingest.lines_received = 12;
    ingest.events_accepted = 9;
    ingest.partial_lines_dropped = 1;
    ingest.connections_active = 2;
    ingest.reject(protocol::RejectReason::invalid_json, 3);
    http::MetricsSources sources;
    sources.ingest = &ingest;
    sources.assembler = [] {
      assembly::AssemblerCounters a;
      a.traces_completed = 4;
      a.traces_timed_out = 1;
      return a;
    };
    sources.store = [] {
      store::StoreCounters s;
      s.traces = 5;
      s.bytes = 2048;
      s.spans = 17;
      s.evicted_max_traces = 2;
      s.evicted_max_bytes = 1;
      return s;
    };
    sources.exporters = [] {
      exporters::ExporterCounters e;
      e.name = "ndjson";
      e.traces_sent = 6;
      e.traces_dropped = 1;
      e.traces_failed = 0;
      e.queue_depth = 3;
      return std::vector<exporters::ExporterCounters>{e};
    };
    http::RequestCounters requests;
    requests.add("traces", 200);
    requests.add("traces", 200);
    requests.add("trace", 404);
    const std::string text = http::format_prometheus(http::read_metrics(sources, requests));
    CHECK(has_line(text, "# TYPE tracecol_lines_received_total counter"));
    CHECK(has_line(text, "tracecol_lines_received_total 12"));
    CHECK(has_line(text, "tracecol_events_accepted_total 9"));
    CHECK(has_line(text, "tracecol_lines_rejected_total{reason=\"invalid_json\"} 3"));
    CHECK(has_line(text, "tracecol_lines_rejected_total{reason=\"too_many_spans\"} 0"));
    CHECK(has_line(text, "tracecol_partial_lines_dropped_total 1"));
    CHECK(has_line(text, "# TYPE tracecol_connections_active gauge"));
    CHECK(has_line(text, "tracecol_connections_active 2"));
    CHECK(has_line(text, "tracecol_traces_completed_total 4"));
    CHECK(has_line(text, "tracecol_traces_timed_out_total 1"));
    CHECK(has_line(text, "tracecol_traces_evicted_total 3"));
    CHECK(has_line(text, "tracecol_store_traces 5"));
    CHECK(has_line(text, "tracecol_store_bytes 2048"));
    CHECK(has_line(text, "tracecol_store_spans 17"));
    CHECK(has_line(text, "tracecol_exporter_sent_traces_total{exporter=\"ndjson\"} 6"));
    CHECK(has_line(text, "tracecol_exporter_dropped_traces_total{exporter=\"ndjson\"} 1"));
    CHECK(has_line(text, "tracecol_exporter_failed_traces_total{exporter=\"ndjson\"} 0"));
    CHECK(has_line(text, "tracecol_exporter_queue_depth{exporter=\"ndjson\"} 3"));
    CHECK(has_line(text, "tracecol_http_requests_total{route=\"traces\",code=\"200\"} 2"));
    CHECK(has_line(text, "tracecol_http_requests_total{route=\"trace\",code=\"404\"} 1"));
    CHECK(text.ends_with("\n"));
    // Every non-comment line is "name[{labels}] value".
    std::size_t samples = 0;
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t nl = text.find('\n', at);
      const std::string line = text.substr(at, nl - at);
      at = nl + 1;
      if (line.starts_with("#")) continue;
      ++samples;
      CHECK(line.starts_with("tracecol_"));
      CHECK(line.find(' ') != std::string::npos);
    }
    CHECK(samples > 20);
  }

  TEST_CASE("escapes label values") {
    CHECK(http::escape_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  }
}
