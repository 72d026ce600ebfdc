// GET /api/stream on the real daemon: span and trace events after socket ingest, the
// filters (shared with /api/traces), a reader that stops reading dropped and counted while
// a healthy one gets everything, the connection cap, and SIGTERM with a stream open.

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <tuple>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

const double t0 = 1732500000.0;

std::string metric_line(const std::string& text, const std::string& name) {
  const std::size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return {};
  return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

bool metric_is(HttpDaemon& h, const std::string& name, const std::string& value) {
  auto r = h.get("/metrics");
  return r && metric_line(r->body, name) == name + " " + value;
}

rapidjson::Document parse(const std::string& data) {
  rapidjson::Document d;
  d.Parse(data.c_str(), data.size());
  return d;
}

/** Opens a stream and waits until the daemon counts it as a subscriber. */
void subscribe(HttpDaemon& h, SseClient& c, const std::string& target, std::size_t expected_subscribers) {
  REQUIRE(c.connected());
  REQUIRE(c.open(target) == 200);
  REQUIRE(c.wait_comment());
  CHECK(c.comments.front() == "tracecol stream");
  REQUIRE(wait_until(
      [&] { return metric_is(h, "tracecol_http_stream_subscribers", std::to_string(expected_subscribers)); }));
}

/** Reads trace events (span events are skipped) until the one for `last` (full hex); the trace ids seen. */
std::vector<std::string> traces_until(SseClient& c, const std::string& last) {
  std::vector<std::string> seen;
  while (auto m = c.next()) {
    if (m->event != "trace") continue;
    seen.push_back(str(parse(m->data), "trace_id"));
    if (seen.back() == last) return seen;
  }
  FAIL("stream ended before the trace " << last);
  return seen;
}

/** A daemon, one stream subscriber on every event, and an agent connected to the socket. */
struct StreamAndAgent {
  TempDir dir;
  HttpDaemon h{dir, {}};
  SseClient c{h.port};
  std::unique_ptr<SocketClient> s;
  StreamAndAgent() {
    subscribe(h, c, "/api/stream", 1);
    s = std::make_unique<SocketClient>(h.daemon.socket_path());
    REQUIRE(s->connected());
  }
  std::tuple<HttpDaemon&, SseClient&, SocketClient&> parts() { return {h, c, *s}; }
};

/** The names of the span events read until the trace event of `last` (full hex). */
std::vector<std::string> span_names_until(SseClient& c, const std::string& last) {
  std::vector<std::string> names;
  while (auto m = c.next()) {
    if (m->event != "trace") names.push_back(str(parse(m->data), "name"));
    else if (str(parse(m->data), "trace_id") == last) return names;
  }
  FAIL("stream ended before the trace " << last);
  return names;
}

}  // namespace

TEST_SUITE("http stream") {
  TEST_CASE("spans sent over the socket arrive as span events, then the trace") {
    TempDir dir;
    HttpDaemon h(dir, {});
    SseClient c(h.port);
    subscribe(h, c, "/api/stream", 1);
    CHECK(c.headers["content-type"] == "text/event-stream");
    CHECK(c.headers["cache-control"] == "no-cache");
    CHECK(c.headers["connection"] == "close");
    CHECK(c.headers["x-accel-buffering"] == "no");

    SocketClient s(h.daemon.socket_path());
    REQUIRE(s.connected());
    std::string lines;
    lines += span_line(SpanSpec("e1", "2", "1").run("run-s").named("tool call").of_kind("TOOL").at(t0 + 0.1, t0 + 0.2));
    // A span in two halves: one span event, when it ends, with the start's name.
    lines += span_line(SpanSpec("e1", "1").as("span_start").run("run-s").named("agent").of_kind("AGENT").at(t0, -1));
    lines += span_line(SpanSpec("e1", "1").as("span_end").at(-1, t0 + 0.5));
    lines += trace_end_line("e1");
    REQUIRE(s.write_all(lines));
    REQUIRE(s.flush(1));

    auto first = c.next();
    REQUIRE(first);
    CHECK(first->event == "span");
    auto d1 = parse(first->data);
    CHECK(str(d1, "name") == "tool call");
    CHECK(str(d1, "span_id") == span_hex("2"));
    CHECK(str(d1, "trace_id") == trace_hex("e1"));
    CHECK(str(d1, "run_id") == "run-s");
    auto second = c.next();
    REQUIRE(second);
    CHECK(second->event == "span");
    auto d2 = parse(second->data);
    CHECK(str(d2, "name") == "agent");
    CHECK(str(d2, "kind") == "AGENT");
    CHECK_FALSE(is_null(d2, "ended_at"));
    auto third = c.next();
    REQUIRE(third);
    CHECK(third->event == "trace");
    // The trace event is exactly GET /api/traces/{id}'s body.
    auto body = h.get("/api/traces/" + trace_hex("e1"));
    REQUIRE(body);
    CHECK(third->data == body->body);
    auto t = parse(third->data);
    CHECK(num(t, "span_count") == 2);
    CHECK(flag(t, "complete"));
  }

  TEST_CASE("a refused span_end does not stream its span again, an accepted update does") {
    StreamAndAgent rig;
    auto [h, c, s] = rig.parts();  // references into the rig
    std::string lines;
    lines += span_line(SpanSpec("a1", "1").named("first").at(t0, t0 + 0.5));
    // Ends the span before its start: refused (bad_time), the stored span unchanged.
    lines += span_line(SpanSpec("a1", "1").as("span_end").at(-1, t0 - 10));
    // The same refused twice more, in between a span of another trace.
    lines += span_line(SpanSpec("a2", "9").named("other").at(t0, t0 + 0.1));
    lines += span_line(SpanSpec("a1", "1").as("span_end").at(-1, t0 - 20));
    lines += span_line(SpanSpec("a1", "1").as("span_end").at(-1, t0 - 30));
    // A valid late end of the same span is an update: it streams.
    lines += span_line(SpanSpec("a1", "1").as("span_end").at(-1, t0 + 0.9));
    lines += span_line(SpanSpec("a1", "2", "1").named("marker").at(t0 + 0.1, t0 + 0.2));
    lines += trace_end_line("a1");
    REQUIRE(s.write_all(lines));
    REQUIRE(s.flush(1));
    CHECK(span_names_until(c, trace_hex("a1")) == std::vector<std::string>{"first", "other", "first", "marker"});
    auto metrics = h.get("/metrics");
    REQUIRE(metrics);
    CHECK(metric_line(metrics->body, "tracecol_lines_rejected_total{reason=\"bad_time\"}") ==
          "tracecol_lines_rejected_total{reason=\"bad_time\"} 3");
  }

  TEST_CASE("spans sent again inside the agent's export(trace) stream once") {
    // The seed's agents export each span as it ends, then the whole trace: the second
    // copies say nothing new and must not show up twice in the stream (or tracectl tail).
    StreamAndAgent rig;
    auto [h, c, s] = rig.parts();  // references into the rig
    const SpanSpec child = SpanSpec("d1", "2", "1").named("child").at(t0 + 0.1, t0 + 0.2);
    const SpanSpec root = SpanSpec("d1", "1").named("root").at(t0, t0 + 0.5);
    std::string lines = span_line(child) + span_line(root);
    lines += R"({"type":"trace","trace_id":")" + trace_hex("d1") + R"(","spans":[)" + span_json(child) + "," +
             span_json(root) + "]}\n";
    REQUIRE(s.write_all(lines));
    // Twice more, in separate batches: after the trace went out, the copies are late no-ops.
    REQUIRE(s.flush(1));
    REQUIRE(s.write_all(span_line(child) + span_line(root)));
    REQUIRE(s.flush(2));
    REQUIRE(s.write_all(span_line(SpanSpec("d2", "1").named("marker").at(t0, t0 + 0.1)) + trace_end_line("d2")));
    REQUIRE(s.flush(3));
    CHECK(span_names_until(c, trace_hex("d2")) == std::vector<std::string>{"child", "root", "marker"});
  }

  TEST_CASE("run_id, error, q and meta filter the stream and /api/traces alike") {
    TempDir dir;
    HttpDaemon h(dir, {});
    SseClient by_run(h.port), by_error(h.port), by_q(h.port), by_meta(h.port), spans_q(h.port), traces_only(h.port);
    subscribe(h, by_run, "/api/stream?run_id=run-a&events=trace", 1);
    subscribe(h, by_error, "/api/stream?error=true&events=trace", 2);
    subscribe(h, by_q, "/api/stream?q=needle&events=trace", 3);
    subscribe(h, by_meta, "/api/stream?meta.user=alice&events=trace", 4);
    subscribe(h, spans_q, "/api/stream?q=needle&events=span", 5);
    subscribe(h, traces_only, "/api/stream?events=trace&meta.n=3", 6);

    SocketClient s(h.daemon.socket_path());
    REQUIRE(s.connected());
    std::string lines;
    lines += span_line(SpanSpec("f1", "1").run("run-a").named("plain").with(R"("metadata":{"user":"bob"})"));
    lines += trace_end_line("f1");
    lines += span_line(SpanSpec("f2", "1").run("run-b").named("failing")
                           .with(R"("error":"boom needle","metadata":{"user":"alice"})"));
    lines += trace_end_line("f2");
    lines += span_line(SpanSpec("f3", "1").run("run-a").named("searching")
                           .with(R"("inputs":{"query":"a needle here"},"metadata":{"user":"alice","n":3})"));
    lines += trace_end_line("f3");
    // Matches every filter but meta.n: the marker that everything before it was delivered.
    lines += span_line(SpanSpec("f9", "1").run("run-a").named("sentinel")
                           .with(R"("error":"needle","metadata":{"user":"alice"})"));
    lines += trace_end_line("f9");
    REQUIRE(s.write_all(lines));
    REQUIRE(s.flush(1));

    const std::string f1 = trace_hex("f1"), f2 = trace_hex("f2"), f3 = trace_hex("f3"), f9 = trace_hex("f9");
    CHECK(traces_until(by_run, f9) == std::vector<std::string>{f1, f3, f9});
    CHECK(traces_until(by_error, f9) == std::vector<std::string>{f2, f9});
    CHECK(traces_until(by_q, f9) == std::vector<std::string>{f2, f3, f9});
    CHECK(traces_until(by_meta, f9) == std::vector<std::string>{f2, f3, f9});
    std::vector<std::string> names;
    for (int i = 0; i < 3; ++i) {
      auto m = spans_q.next();
      REQUIRE(m);
      CHECK(m->event == "span");
      names.push_back(str(parse(m->data), "name"));
    }
    CHECK(names == std::vector<std::string>{"failing", "searching", "sentinel"});
    auto only = traces_only.next();
    REQUIRE(only);
    CHECK(str(parse(only->data), "trace_id") == f3);

    auto ids = [&](const std::string& target) {
      auto r = h.get(target);
      REQUIRE(r);
      REQUIRE(r->status == 200);
      std::set<std::string> out;
      auto d = parse(r->body);
      for (const auto& t : d["traces"].GetArray()) out.insert(str(t, "trace_id"));
      return out;
    };
    CHECK(ids("/api/traces?q=needle") == std::set<std::string>{f2, f3, f9});
    CHECK(ids("/api/traces?meta.user=alice") == std::set<std::string>{f2, f3, f9});
    CHECK(ids("/api/traces?meta.user=bob") == std::set<std::string>{f1});
    CHECK(ids("/api/traces?meta.n=3&q=searching") == std::set<std::string>{f3});
    CHECK(ids("/api/traces?meta.user=alice&run_id=run-a&error=true") == std::set<std::string>{f9});
  }

  TEST_CASE("a bad stream query gets 400 and the cap counts stream connections") {
    TempDir dir;
    HttpDaemon h(dir, {"--http-max-connections", "1"});
    auto bad = h.get("/api/stream?events=logs");
    REQUIRE(bad);
    CHECK(bad->status == 400);
    CHECK(bad->body.find("events") != std::string::npos);
    // The 400's connection may not be released yet: retry until the one slot is free.
    std::unique_ptr<SseClient> c;
    REQUIRE(wait_until([&] {
      c = std::make_unique<SseClient>(h.port);
      return c->open("/api/stream") == 200;
    }));
    REQUIRE(c->wait_comment());
    HttpClient other(h.port);
    auto refused = other.request("GET", "/api/traces");
    REQUIRE(refused);
    CHECK(refused->status == 503);
    // Past the cap a probe is still served (the probe reserve), and its connection closed.
    HttpClient probe(h.port);
    auto health = probe.request("GET", "/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(probe.wait_eof());
  }

  TEST_CASE("a trace record larger than a subscriber's whole queue still reaches a reader that keeps up") {
    TempDir dir;
    HttpDaemon h(dir, {});
    SseClient reader(h.port);
    subscribe(h, reader, "/api/stream?events=trace", 1);
    // 20 spans with 100 KB outputs: a ~2 MB trace event, twice the 1 MiB queue.
    const std::string id = hex(0xB16B, 32);
    const std::string blob(100000, 'y');
    std::string lines = span_line(SpanSpec(id, "1"));
    for (int s = 2; s <= 20; ++s)
      lines += span_line(SpanSpec(id, std::to_string(s), "1").with("\"outputs\":{\"text\":\"" + blob + "\"}"));
    lines += trace_end_line(id);
    SocketClient agent(h.daemon.socket_path());
    REQUIRE(agent.connected());
    REQUIRE(agent.write_all(lines));
    REQUIRE(agent.flush(1));
    auto m = reader.next();
    REQUIRE(m);
    CHECK(m->event == "trace");
    CHECK(m->data.size() > (2u << 20) - (200u << 10));
    const auto d = parse(m->data);
    REQUIRE(d.IsObject());
    CHECK(str(d, "trace_id") == id);
    CHECK(d["spans"].Size() == 20);
    CHECK(metric_is(h, "tracecol_http_stream_dropped_total{reason=\"slow_reader\"}", "0"));
    CHECK(metric_is(h, "tracecol_http_stream_subscribers", "1"));
  }

  TEST_CASE("a burst of 200 traces of 20 KB in one POST reaches a reader that keeps up") {
    // 4 MB published in one go, faster than any reader takes it: four times the queue.
    TempDir dir;
    HttpDaemon h(dir, {});
    SseClient reader(h.port);
    subscribe(h, reader, "/api/stream?events=trace", 1);
    const std::string blob(20000, 'z');
    std::string lines;
    std::string last;
    for (int t = 0; t < 200; ++t) {
      last = hex(0xB0057 + t, 32);
      lines += span_line(SpanSpec(last, "1").with("\"inputs\":{\"text\":\"" + blob + "\"}")) + trace_end_line(last);
    }
    // One POST is one batch: its 200 traces complete, and are published, at once.
    HttpClient poster(h.port);
    auto posted = poster.request("POST", "/api/spans", lines, "Content-Type: application/x-ndjson\r\n");
    REQUIRE(posted);
    CHECK(posted->status == 200);
    const auto seen = traces_until(reader, last);
    CHECK(seen.size() == 200);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 200);
    CHECK(metric_is(h, "tracecol_http_stream_dropped_total{reason=\"slow_reader\"}", "0"));
  }

  TEST_CASE("a reader that stops reading is dropped and counted, ingest and a healthy reader go on") {
    TempDir dir;
    HttpDaemon h(dir, {});
    SseClient slow(h.port, 4096);
    subscribe(h, slow, "/api/stream", 1);
    SseClient healthy(h.port);
    subscribe(h, healthy, "/api/stream?events=trace", 2);

    constexpr int traces = 400;
    constexpr int spans = 5;
    std::atomic<int> received{0};
    std::thread reader([&] {
      while (received.load() < traces) {
        auto m = healthy.next();
        if (!m) break;
        if (m->event == "trace") received.fetch_add(1);
      }
    });
    const std::string big = R"("inputs":{"text":")" + std::string(4000, 'x') + R"("})";
    SocketClient s(h.daemon.socket_path());
    REQUIRE(s.connected());
    // In rounds the healthy reader keeps up with: a burst past its 1 MiB queue would drop
    // it too, healthy or not (that is the bound working). The slow reader gets ~8 MB.
    constexpr int per_round = 20;
    for (int round = 0; round < traces / per_round; ++round) {
      std::string lines;
      for (int t = round * per_round; t < (round + 1) * per_round; ++t) {
        const std::string id = hex(0x7000 + static_cast<unsigned>(t), 8);
        for (int i = 1; i <= spans; ++i)
          lines += span_line(SpanSpec(id, std::to_string(i), i == 1 ? "" : "1").with(big));
        lines += trace_end_line(id);
      }
      REQUIRE(s.write_all(lines));
      auto f = s.flush(round + 1);
      REQUIRE(f);
      CHECK(f->accepted == std::int64_t{(round + 1) * per_round * (spans + 1)});
      CHECK(f->rejected == 0);
      REQUIRE(wait_until([&] { return received.load() == (round + 1) * per_round; }));
    }
    CHECK(wait_until([&] { return received.load() == traces; }));
    reader.join();
    CHECK(received.load() == traces);
    CHECK(wait_until(
        [&] { return metric_is(h, "tracecol_http_stream_dropped_total{reason=\"slow_reader\"}", "1"); }));
    CHECK(slow.wait_eof());  // the server closed it
    CHECK(wait_until([&] { return metric_is(h, "tracecol_http_stream_subscribers", "1"); }));
    auto m = h.get("/metrics");
    REQUIRE(m);
    CHECK(metric_line(m->body, "tracecol_exporter_dropped_traces_total{exporter=\"stream\"}").ends_with(" 0"));
  }

  TEST_CASE("SIGTERM with a stream open ends the stream and exits 0") {
    TempDir dir;
    HttpDaemon h(dir, {});
    SseClient c(h.port);
    subscribe(h, c, "/api/stream", 1);
    SocketClient s(h.daemon.socket_path());
    REQUIRE(s.write_all(span_line(SpanSpec("d1", "1"))));
    REQUIRE(s.flush(1));
    auto m = c.next();
    REQUIRE(m);
    CHECK(m->event == "span");
    auto st = h.daemon.terminate();
    REQUIRE(st);
    CHECK(exit_code(*st) == 0);
    CHECK(c.wait_eof());
    const std::string err = h.daemon.err();
    CHECK(err.find("| stream: sent=") != std::string::npos);
  }
}
