#pragma once
// Shared by the HTTP exporter unit tests: a fixed trace, an exporter to a local receiver.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "daemon/export/http/http_exporter.hpp"
#include "tests/integration/http_receiver.hpp"
#include "tests/unit/otlp/otlp_test_support.hpp"

namespace tracecol::exporters::http::testing {

using namespace std::chrono_literals;

/** The OTLP golden trace with its ids shifted by `n`, so batches hold distinct traces. */
inline protocol::Trace numbered_trace(std::uint64_t n) {
  protocol::Trace t = protocol::testing::golden_trace();
  t.trace_id.lo += n;
  for (auto& s : t.spans) s.trace_id = t.trace_id;
  return t;
}

inline HttpExporterOptions options_for(const integration::HttpReceiver& r, const std::string& path = "/v1/traces") {
  HttpExporterOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(r.port()) + path;
  o.timeout = 10s;
  o.max_delay = 1h;  // tests flush or fill batches explicitly unless they test the delay
  o.backoff = {5ms, 20ms};
  return o;
}

inline std::unique_ptr<HttpExporter> make_exporter(HttpExporterOptions o) {
  std::string error;
  auto e = HttpExporter::create(std::move(o), &error);
  REQUIRE_MESSAGE(e != nullptr, error);
  return e;
}

/** Polls pred until it holds or 30 s pass (a deadline, not a duration assertion). */
inline bool eventually(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

}  // namespace tracecol::exporters::http::testing
