#include <doctest/doctest.h>

#include "daemon/http/metrics.hpp"
#include "tests/unit/http/prometheus_text.hpp"

using namespace tracecol;
namespace prom = tracecol::test::prometheus;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

std::string errors_of(const prom::Exposition& x) {
  std::string all;
  for (const auto& e : x.errors) all += e + "\n";
  return all;
}

/** An exporter's counters with a few latency samples recorded. */
exporters::ExporterCounters exporter(std::string name, std::initializer_list<double> latencies) {
  exporters::ExporterCounters e;
  e.name = std::move(name);
  for (double l : latencies) e.export_latency.record(l);
  e.traces_sent = latencies.size();
  return e;
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
    CHECK(has_line(text, "tracecol_traces_evicted_total{reason=\"max_traces\"} 2"));
    CHECK(has_line(text, "tracecol_traces_evicted_total{reason=\"max_bytes\"} 1"));
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

  TEST_CASE("the whole exposition passes a strict parse, odd exporter names included") {
    ingest::IngestCounters ingest;
    ingest.reject(protocol::RejectReason::bad_kind, 2);
    http::MetricsSources sources;
    sources.ingest = &ingest;
    sources.exporters = [] {
      return std::vector<exporters::ExporterCounters>{exporter("ndjson", {0.0001, 0.003, 0.003, 45.0}),
                                                       exporter("we\"ird\\name\nx", {}),
                                                       exporter("http", {0.2})};
    };
    http::RequestCounters requests;
    requests.add("metrics", 200);
    requests.add("v1_traces", 415);
    http::ServerCounters server;
    server.connections_active = 3;
    server.otlp_spans_received = 10;
    const std::string text = http::format_prometheus(http::read_metrics(sources, requests, &server));
    const prom::Exposition x = prom::parse(text);
    INFO(errors_of(x));
    CHECK(x.errors.empty());
    // Every family is there, typed as Prometheus expects.
    const std::pair<const char*, const char*> families[] = {
        {"tracecol_lines_received_total", "counter"},          {"tracecol_exporter_retried_total", "counter"},
        {"tracecol_export_latency_seconds", "histogram"},       {"tracecol_http_connections_active", "gauge"},
        {"tracecol_http_connections_total", "counter"},         {"tracecol_http_connections_refused_total", "counter"},
        {"tracecol_http_timeouts_total", "counter"},            {"tracecol_otlp_spans_received_total", "counter"},
        {"tracecol_otlp_spans_rejected_total", "counter"},      {"tracecol_otlp_requests_rejected_total", "counter"},
        {"tracecol_http_requests_total", "counter"}};
    for (const auto& [name, type] : families) {
      INFO(name);
      const prom::Family* f = x.family(name);
      REQUIRE(f != nullptr);
      CHECK(f->type == type);
      CHECK_FALSE(f->help.empty());
    }
    // The odd name reads back exactly as it was, through the escapes.
    CHECK(x.value("tracecol_export_latency_seconds_count", {{"exporter", "we\"ird\\name\nx"}}) == 0.0);
    CHECK(x.value("tracecol_exporter_sent_traces_total", {{"exporter", "we\"ird\\name\nx"}}) == 0.0);
    CHECK(x.value("tracecol_http_connections_active") == 3.0);
    CHECK(x.value("tracecol_otlp_spans_received_total") == 10.0);
  }

  TEST_CASE("the export latency histogram is cumulative per exporter and ends in +Inf equal to _count") {
    http::MetricsSnapshot m;
    m.exporters = {exporter("ndjson", {0.0001, 0.003, 0.003, 45.0}), exporter("http", {0.2})};
    const std::string text = http::format_prometheus(m);
    CHECK(has_line(text, "# TYPE tracecol_export_latency_seconds histogram"));
    CHECK(has_line(text, "tracecol_export_latency_seconds_bucket{exporter=\"ndjson\",le=\"0.0005\"} 1"));
    CHECK(has_line(text, "tracecol_export_latency_seconds_bucket{exporter=\"ndjson\",le=\"0.0025\"} 1"));
    CHECK(has_line(text, "tracecol_export_latency_seconds_bucket{exporter=\"ndjson\",le=\"0.005\"} 3"));
    CHECK(has_line(text, "tracecol_export_latency_seconds_bucket{exporter=\"ndjson\",le=\"30\"} 3"));
    CHECK(has_line(text, "tracecol_export_latency_seconds_bucket{exporter=\"ndjson\",le=\"+Inf\"} 4"));
    CHECK(has_line(text, "tracecol_export_latency_seconds_count{exporter=\"ndjson\"} 4"));
    CHECK(has_line(text, "tracecol_export_latency_seconds_bucket{exporter=\"http\",le=\"0.1\"} 0"));
    CHECK(has_line(text, "tracecol_export_latency_seconds_bucket{exporter=\"http\",le=\"0.25\"} 1"));
    const prom::Exposition x = prom::parse(text);
    INFO(errors_of(x));
    CHECK(x.errors.empty());
    const auto sum = x.value("tracecol_export_latency_seconds_sum", {{"exporter", "ndjson"}});
    REQUIRE(sum);
    CHECK(*sum == doctest::Approx(45.0061));
    const prom::Family* f = x.family("tracecol_export_latency_seconds");
    REQUIRE(f != nullptr);
    CHECK(f->samples.size() == 2 * (exporters::export_latency_bounds.size() + 1 + 2));
  }

  TEST_CASE("HTTP connection, timeout, retried and OTLP counters are emitted with their values") {
    http::ServerCounters server;
    server.connections_active = 2;
    server.connections_total = 9;
    server.connections_refused = 4;
    server.timeouts = 1;
    server.otlp_spans_received = 12;
    server.otlp_spans_invalid = 3;
    server.otlp_spans_refused[static_cast<std::size_t>(protocol::RejectReason::too_many_spans)] = 2;
    server.reject_request(http::OtlpRequestReject::unsupported_content);
    server.reject_request(http::OtlpRequestReject::invalid_body);
    server.reject_request(http::OtlpRequestReject::invalid_body);
    http::MetricsSources sources;
    sources.exporters = [] {
      auto e = exporter("http", {});
      e.traces_retried = 7;
      return std::vector<exporters::ExporterCounters>{e};
    };
    const std::string text = http::format_prometheus(http::read_metrics(sources, {}, &server));
    CHECK(has_line(text, "tracecol_http_connections_active 2"));
    CHECK(has_line(text, "tracecol_http_connections_total 9"));
    CHECK(has_line(text, "tracecol_http_connections_refused_total 4"));
    CHECK(has_line(text, "tracecol_http_timeouts_total 1"));
    CHECK(has_line(text, "tracecol_exporter_retried_total{exporter=\"http\"} 7"));
    CHECK(has_line(text, "tracecol_otlp_spans_received_total 12"));
    CHECK(has_line(text, "tracecol_otlp_spans_rejected_total{reason=\"invalid_span\"} 3"));
    CHECK(has_line(text, "tracecol_otlp_spans_rejected_total{reason=\"too_many_spans\"} 2"));
    CHECK(has_line(text, "tracecol_otlp_requests_rejected_total{reason=\"unsupported_content\"} 1"));
    CHECK(has_line(text, "tracecol_otlp_requests_rejected_total{reason=\"invalid_body\"} 2"));
    CHECK(has_line(text, "tracecol_otlp_requests_rejected_total{reason=\"too_large\"} 0"));
    CHECK(has_line(text, "tracecol_otlp_requests_rejected_total{reason=\"corrupt_gzip\"} 0"));
  }

  TEST_CASE("OTLP span rejection reasons are a fixed, bounded set") {
    http::ServerCounters server;
    auto reasons = [&] {
      const auto x = prom::parse(http::format_prometheus(http::read_metrics({}, {}, &server)));
      std::vector<std::string> out;
      for (const auto& s : x.family("tracecol_otlp_spans_rejected_total")->samples) out.push_back(s.labels.at("reason"));
      return out;
    };
    CHECK(reasons() == std::vector<std::string>{"invalid_span", "too_many_spans"});
    // A pipeline reason other than too_many_spans shows only once it happened, by its protocol name.
    server.otlp_spans_refused[static_cast<std::size_t>(protocol::RejectReason::bad_time)] = 1;
    CHECK(reasons() == std::vector<std::string>{"invalid_span", "bad_time", "too_many_spans"});
    CHECK(reasons().size() <= 1 + static_cast<std::size_t>(protocol::RejectReason::count_));
  }

  TEST_CASE("without server counters every server family is still emitted, at zero") {
    const std::string text = http::format_prometheus(http::read_metrics({}, {}));
    CHECK(has_line(text, "tracecol_http_connections_active 0"));
    CHECK(has_line(text, "tracecol_http_timeouts_total 0"));
    CHECK(has_line(text, "tracecol_otlp_spans_rejected_total{reason=\"invalid_span\"} 0"));
    CHECK(prom::parse(text).errors.empty());
  }
}

TEST_SUITE("http metrics strict reader") {
  // The reader must reject what a broken formatter would produce, or passing it proves nothing.
  TEST_CASE("accepts a minimal well-formed exposition") {
    const auto x = prom::parse(
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\n"
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n");
    INFO(errors_of(x));
    CHECK(x.errors.empty());
    CHECK(x.value("a_total", {{"x", "q\"\\\n"}}) == 1.0);
  }

  TEST_CASE("rejects broken expositions") {
    const char* broken[] = {
        "# HELP a A.\n# TYPE a counter\na 1",                                          // no final newline
        "# TYPE a counter\na 1\n",                                                      // TYPE without HELP
        "# HELP a A.\n# TYPE a counter\na 1\n# HELP a A.\n# TYPE a counter\n",          // family twice
        "# HELP a A.\n# TYPE a counter\nb 1\n",                                         // sample outside family
        "# HELP a A.\n# TYPE a counter\na{x=\"1\"} 1\na{x=\"1\"} 2\n",                 // duplicate series
        "# HELP a A.\n# TYPE a counter\na{x=\"\\t\"} 1\n",                              // bad escape
        "# HELP a A.\n# TYPE a counter\na{x=\"1\",} 1\n",                               // trailing comma
        "# HELP a A.\n# TYPE a counter\na  1\n",                                        // two spaces
        "# HELP a A.\n# TYPE a counter\na -1\n",                                        // negative counter
        "# HELP a A.\n# TYPE a counter\na one\n",                                       // not a number
        "# HELP a A.\n# TYPE a widget\na 1\n",                                          // unknown type
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",   // no +Inf
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",  // +Inf != count
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",          // no _sum
        "# HELP a A.\n# TYPE a counter\n\na 1\n",                                      // empty line
        "# HELP a A.\n# TYPE a counter\n# a comment\na 1\n",                           // stray comment
    };
    for (const char* text : broken) {
      INFO(text);
      CHECK_FALSE(prom::parse(text).errors.empty());
    }
  }
}

TEST_SUITE("http metrics: accounting") {
  TEST_CASE("the accounting families carry the counters they name") {
    ingest::IngestCounters ingest;
    ingest.lines_received = 20;
    ingest.events_accepted = 14;
    ingest.control_lines = 3;
    ingest.lines_blank = 2;
    ingest.reject(protocol::RejectReason::bad_kind, 3);
    http::MetricsSources sources;
    sources.ingest = &ingest;
    sources.assembler = [] {
      assembly::AssemblerCounters a;
      a.spans_accepted = 30;
      a.spans_merged = 4;
      a.spans_late = 2;
      a.spans_sampled_out = 5;
      a.spans_published = 21;
      a.spans_open = 4;
      a.traces_sampled_out = 2;
      return a;
    };
    sources.store = [] {
      store::StoreCounters s;
      s.spans = 22;
      s.spans_inserted = 30;
      s.spans_evicted_max_traces = 6;
      s.spans_evicted_max_bytes = 2;
      return s;
    };
    sources.exporters = [] {
      exporters::ExporterCounters e;
      e.name = "http";
      e.spans_published = 21;
      e.spans_sent = 10;
      e.spans_failed = 1;
      e.spans_dropped = 9;  // 3 queue_full + 2 shutdown + 4 inside the exporter
      e.spans_dropped_queue_full = 3;
      e.spans_dropped_shutdown = 2;
      e.spans_pending = 1;
      exporters::ExporterCounters s;
      s.name = "stream";
      s.spans_published = 25;
      s.lone_spans_published = 4;
      s.spans_sent = 25;
      return std::vector<exporters::ExporterCounters>{e, s};
    };
    const std::string text = http::format_prometheus(http::read_metrics(sources, {}));
    const prom::Exposition x = prom::parse(text);
    INFO(errors_of(x));
    CHECK(x.errors.empty());
    CHECK(x.value("tracecol_control_lines_total") == 3.0);
    CHECK(x.value("tracecol_blank_lines_total") == 2.0);
    CHECK(x.value("tracecol_spans_accepted_total") == 30.0);
    CHECK(x.value("tracecol_spans_merged_total") == 4.0);
    CHECK(x.value("tracecol_spans_late_total") == 2.0);
    CHECK(x.value("tracecol_spans_sampled_out_total") == 5.0);
    CHECK(x.value("tracecol_spans_published_total") == 21.0);
    CHECK(x.value("tracecol_spans_open") == 4.0);
    CHECK(x.value("tracecol_traces_sampled_out_total") == 2.0);
    CHECK(x.value("tracecol_spans_stored_total") == 30.0);
    CHECK(x.value("tracecol_spans_evicted_total", {{"reason", "max_traces"}}) == 6.0);
    CHECK(x.value("tracecol_spans_evicted_total", {{"reason", "max_bytes"}}) == 2.0);
    const prom::Labels http{{"exporter", "http"}};
    CHECK(x.value("tracecol_exporter_published_spans_total", http) == 21.0);
    CHECK(x.value("tracecol_exporter_sent_spans_total", http) == 10.0);
    CHECK(x.value("tracecol_exporter_pending_spans", http) == 1.0);
    CHECK(x.value("tracecol_exporter_live_spans_total", {{"exporter", "stream"}}) == 4.0);
    auto dropped = [&](const char* exporter, const char* reason) {
      return x.value("tracecol_exporter_dropped_spans_total", {{"exporter", exporter}, {"reason", reason}}).value_or(-1);
    };
    CHECK(dropped("http", "queue_full") == 3.0);
    CHECK(dropped("http", "shutdown") == 2.0);
    CHECK(dropped("http", "failed") == 1.0);
    CHECK(dropped("http", "in_exporter") == 4.0);
    CHECK(dropped("stream", "in_exporter") == 0.0);  // every reason, always present
    for (const char* family : {"tracecol_control_lines_total", "tracecol_spans_evicted_total",
                               "tracecol_exporter_dropped_spans_total", "tracecol_spans_open"}) {
      INFO(family);
      const prom::Family* f = x.family(family);
      REQUIRE(f != nullptr);
      CHECK_FALSE(f->help.empty());
    }
    CHECK(x.family("tracecol_spans_open")->type == "gauge");
    CHECK(x.family("tracecol_exporter_pending_spans")->type == "gauge");
  }
}
