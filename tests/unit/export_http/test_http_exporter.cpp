// The exporter against a real local receiver: batching by size and delay, flush, retry
// and what is counted when the receiver refuses, fails or is gone.
#include <doctest/doctest.h>

#include "tests/unit/export_http/export_http_test_support.hpp"

namespace eh = tracecol::exporters::http;
using namespace eh::testing;
using tracecol::integration::HttpReceiver;
using tracecol::integration::Reply;

TEST_SUITE("export http exporter") {
  TEST_CASE("sends a full batch at once and a partial one after the max delay") {
    HttpReceiver r;
    auto o = options_for(r);
    o.max_batch_traces = 3;
    o.max_delay = 100ms;
    auto e = make_exporter(o);
    for (std::uint64_t i = 0; i < 4; ++i) e->export_trace(numbered_trace(i));
    REQUIRE(eventually([&] { return e->stats().traces_sent == 4; }));
    const auto got = r.requests();
    REQUIRE(got.size() == 2);
    CHECK(got[0].body.find(numbered_trace(2).spans[0].name) != std::string::npos);
    const auto s = e->stats();
    CHECK(s.requests == 2);
    CHECK(s.spans_sent == 12);
    CHECK(s.traces_pending == 0);
    CHECK(e->retried() == 0);
  }

  TEST_CASE("splits batches at the byte limit") {
    HttpReceiver r;
    auto o = options_for(r);
    o.max_batch_bytes = 10;  // smaller than one trace: one trace per request
    auto e = make_exporter(o);
    for (std::uint64_t i = 0; i < 3; ++i) e->export_trace(numbered_trace(i));
    e->flush();
    CHECK(r.request_count() == 3);
    CHECK(e->stats().traces_sent == 3);
  }

  TEST_CASE("a batch taken by estimate that encodes larger is split by its real size, nothing lost") {
    // Escaping doubles a newline: each trace encodes to about twice its estimate, so a
    // batch taken by estimates overshoots max-batch-bytes and must be cut when encoded.
    HttpReceiver r;
    auto o = options_for(r);
    o.max_batch_bytes = 64u << 10;
    auto e = make_exporter(o);
    constexpr std::uint64_t traces = 40;
    for (std::uint64_t i = 0; i < traces; ++i) {
      auto t = numbered_trace(i);
      for (auto& s : t.spans) s.inputs = "{\"prompt\":\"" + std::string(3000, '\n') + "\"}";
      e->export_trace(t);
    }
    e->flush();
    const auto got = r.requests();
    REQUIRE(got.size() > 1);
    std::size_t found = 0;
    for (const auto& req : got) {
      CHECK(req.body.size() <= o.max_batch_bytes);
      for (std::uint64_t i = 0; i < traces; ++i)
        if (req.body.find(numbered_trace(i).trace_id.hex()) != std::string::npos) ++found;
    }
    CHECK(found == traces);  // each trace in exactly one request
    const auto s = e->stats();
    CHECK(s.traces_sent == traces);
    CHECK(s.traces_dropped_queue == 0);
    CHECK(s.traces_pending == 0);
  }

  TEST_CASE("flush sends a partial batch without waiting for the max delay") {
    HttpReceiver r;
    auto e = make_exporter(options_for(r));  // max delay 1 h
    e->export_trace(numbered_trace(0));
    e->export_trace(numbered_trace(1));
    e->flush();
    CHECK(r.request_count() == 1);
    CHECK(e->stats().traces_sent == 2);
  }

  TEST_CASE("retries 503 with Retry-After and counts the retried traces once sent") {
    HttpReceiver r;
    r.script([](std::size_t i, const auto&) {
      Reply reply;
      if (i < 2) reply = Reply{503, {{"Retry-After", "0"}}, "busy", false};
      return reply;
    });
    auto e = make_exporter(options_for(r));
    e->export_trace(numbered_trace(0));
    e->export_trace(numbered_trace(1));
    e->flush();
    const auto s = e->stats();
    CHECK(r.request_count() == 3);
    CHECK(s.traces_sent == 2);
    CHECK(s.requests == 3);
    CHECK(s.requests_failed == 2);
    CHECK(e->retried() == 4);  // two repeated attempts of a two-trace batch
  }

  TEST_CASE("a 400 drops the batch, counts it as failed and never retries it") {
    HttpReceiver r;
    r.script([](std::size_t, const auto&) { return Reply{400, {}, R"({"error":"bad"})", false}; });
    auto e = make_exporter(options_for(r));
    e->export_trace(numbered_trace(0));
    e->flush();
    const auto s = e->stats();
    CHECK(r.request_count() == 1);
    CHECK(s.traces_failed == 1);
    CHECK(s.traces_sent == 0);
    CHECK(e->retried() == 0);
  }

  TEST_CASE("a 200 whose partialSuccess rejects spans is delivered, and the rejected spans are counted") {
    HttpReceiver r;
    r.script([](std::size_t i, const auto&) {
      if (i == 0) return Reply{200, {{"Content-Type", "application/json"}}, R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"span too big\u001b[31m"}})", false};
      return Reply{200, {{"Content-Type", "application/json"}}, R"({"partialSuccess":{}})", false};
    });
    auto o = options_for(r);
    o.max_batch_traces = 1;
    auto e = make_exporter(o);
    e->export_trace(numbered_trace(0));
    e->flush();
    e->export_trace(numbered_trace(1));
    e->flush();
    const auto s = e->stats();
    CHECK(s.traces_sent == 2);
    CHECK(s.traces_failed == 0);
    CHECK(s.spans_rejected_by_receiver == 2);
    CHECK(e->retried() == 0);
    REQUIRE(e->handoff());
    CHECK(e->handoff()->spans_rejected_by_receiver == 2);
  }

  TEST_CASE("gives a batch up after the max elapsed time while the receiver is down, and counts it") {
    HttpReceiver r;
    r.stop_listening();
    auto o = options_for(r);
    o.max_elapsed = 200ms;
    auto e = make_exporter(o);
    e->export_trace(numbered_trace(0));
    e->flush();
    const auto s = e->stats();
    CHECK(s.traces_dropped_gave_up == 1);
    CHECK(s.requests >= 2);
    CHECK(s.traces_pending == 0);
  }

  TEST_CASE("a request timeout counts as retryable and the exporter recovers on a new connection") {
    HttpReceiver r;
    r.script([](std::size_t i, const auto&) {
      Reply reply;
      reply.never_answer = i == 0;
      return reply;
    });
    auto o = options_for(r);
    o.timeout = 200ms;
    auto e = make_exporter(o);
    e->export_trace(numbered_trace(0));
    e->flush();
    CHECK(r.request_count() == 2);
    CHECK(e->stats().traces_sent == 1);
    CHECK(e->retried() == 1);
  }

  TEST_CASE("json format posts the trace records as NDJSON") {
    HttpReceiver r;
    auto o = options_for(r, "/ingest");
    o.format = eh::Format::json;
    auto e = make_exporter(o);
    e->export_trace(numbered_trace(0));
    e->export_trace(numbered_trace(1));
    e->flush();
    const auto got = r.requests();
    REQUIRE(got.size() == 1);
    CHECK(got[0].target == "/ingest");
    CHECK(got[0].headers.at("content-type") == "application/x-ndjson");
    const std::string& body = got[0].body;
    REQUIRE(!body.empty());
    CHECK(body.back() == '\n');
    CHECK(std::count(body.begin(), body.end(), '\n') == 2);
    CHECK(body.rfind("{\"trace_id\":", 0) == 0);
  }

  TEST_CASE("destruction cuts a hung request short and does not wait for the timeout") {
    HttpReceiver r;
    r.script([](std::size_t, const auto&) {
      Reply reply;
      reply.never_answer = true;
      return reply;
    });
    auto o = options_for(r);
    o.timeout = std::chrono::hours(1);  // only abort() can end this request
    o.max_delay = 1ms;
    auto e = make_exporter(o);
    e->export_trace(numbered_trace(0));
    REQUIRE(eventually([&] { return r.request_count() == 1; }));
    e.reset();  // returns: the test would hang otherwise
    CHECK(r.request_count() == 1);
  }

  TEST_CASE("handoff splits every queued trace into delivered, failed, dropped or pending, shutdown settles the rest") {
    HttpReceiver r;
    r.script([](std::size_t i, const auto&) {
      Reply reply;
      if (i == 1) reply.status = 400;
      reply.never_answer = i >= 2;
      return reply;
    });
    auto o = options_for(r);
    o.max_batch_traces = 1;
    o.max_delay = 1ms;
    o.timeout = std::chrono::hours(1);  // the third request hangs until shutdown
    o.queue.max_traces = 3;
    auto e = make_exporter(o);
    e->export_trace(numbered_trace(0));  // delivered
    REQUIRE(eventually([&] { return e->stats().traces_sent == 1; }));
    e->export_trace(numbered_trace(1));  // 400: failed
    REQUIRE(eventually([&] { return e->stats().traces_failed == 1; }));
    e->export_trace(numbered_trace(2));  // hangs in flight
    REQUIRE(eventually([&] { return r.request_count() == 3; }));
    for (std::uint64_t n = 3; n < 7; ++n) e->export_trace(numbered_trace(n));  // 4 into a queue of 3: one dropped
    auto h = e->handoff();
    REQUIRE(h);
    CHECK(h->traces_delivered == 1);
    CHECK(h->traces_failed == 1);
    CHECK(h->traces_dropped == 1);
    CHECK(h->traces_pending == 4);  // 3 queued + 1 in flight
    const auto spans = numbered_trace(0).spans.size();
    CHECK(h->spans_delivered == spans);
    CHECK(h->spans_pending == 4 * spans);
    e->shutdown();  // returns at once: the hung request is cut short
    h = e->handoff();
    REQUIRE(h);
    CHECK(h->traces_pending == 0);
    CHECK(h->spans_pending == 0);
    CHECK(h->traces_dropped == 5);
    CHECK(h->spans_dropped == 5 * spans);
    CHECK(h->traces_delivered + h->traces_failed + h->traces_dropped == 7);
    CHECK(e->stats().traces_dropped_shutdown == 4);
    e->shutdown();  // idempotent; the destructor calls it again
  }

  TEST_CASE("rejects a bad URL and an unreadable CA file at creation") {
    std::string error;
    eh::HttpExporterOptions o;
    o.url = "ftp://x/";
    CHECK(eh::HttpExporter::create(o, &error) == nullptr);
    CHECK(error.find("--export-http") != std::string::npos);
    o.url = "https://localhost:1/";
    o.ca_file = "/nonexistent/ca.pem";
    CHECK(eh::HttpExporter::create(o, &error) == nullptr);
    CHECK(error.find("TLS") != std::string::npos);
  }
}
