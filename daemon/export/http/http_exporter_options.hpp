#pragma once
// Every knob of one HTTP exporter (one --export-http URL); the daemon fills it from Config.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "daemon/export/http/record_queue.hpp"
#include "daemon/export/http/retry_policy.hpp"

namespace tracecol::exporters::http {

enum class Format {
  otlp,        // OTLP/HTTP JSON ExportTraceServiceRequest, Content-Type application/json
  otlp_proto,  // OTLP/HTTP protobuf, Content-Type application/x-protobuf (OTLP's default encoding)
  json,  // our trace records, one per line (NDJSON), Content-Type application/x-ndjson
};

struct HttpExporterOptions {
  std::string url;  // http://host:port/path or https://...; sent to exactly as given
  Format format = Format::otlp;
  std::vector<std::pair<std::string, std::string>> headers;  // added to every request; never logged
  std::chrono::milliseconds timeout{10'000};                 // one attempt, connect to answer
  std::size_t max_batch_traces = 512;
  std::uint64_t max_batch_bytes = 4ull << 20;
  std::chrono::milliseconds max_delay{1000};       // a partial batch waits at most this long
  std::chrono::milliseconds max_elapsed{60'000};   // a batch is given up after this long
  QueueLimits queue;
  BackoffPolicy backoff;
  bool insecure = false;
  std::string ca_file;
  std::string service_name = "tracecol";
  std::chrono::milliseconds drain_timeout{12'000};  // flush() returns by then (daemon drain budget: 15 s)
};

}  // namespace tracecol::exporters::http
