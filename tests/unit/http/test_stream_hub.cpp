#include <doctest/doctest.h>

#include <atomic>

#include "daemon/http/stream_hub.hpp"

using namespace tracecol;
using http::StreamHub;
using http::StreamQuery;
using http::StreamSubscriber;

namespace {

protocol::Span make_span(std::uint64_t id, std::string name, std::string run = "run-a") {
  protocol::Span s;
  s.trace_id = protocol::TraceId{0, 0x42};
  s.span_id = id;
  s.name = std::move(name);
  s.run_id = std::move(run);
  s.started_at_ns = 1'000'000'000;
  s.ended_at_ns = 1'002'000'000;
  s.fields = protocol::field_name | protocol::field_started_at | protocol::field_ended_at;
  return s;
}

protocol::Trace make_trace(std::string run = "run-a") {
  protocol::Trace t;
  t.trace_id = protocol::TraceId{0, 0x42};
  t.run_id = run;
  t.complete = true;
  t.spans.push_back(make_span(1, "root", run));
  return t;
}

StreamQuery query(std::string run_id = {}, bool spans = true, bool traces = true) {
  StreamQuery q;
  q.filter.run_id = std::move(run_id);
  q.spans = spans;
  q.traces = traces;
  return q;
}

}  // namespace

TEST_SUITE("http stream hub") {
  TEST_CASE("encodes a span and a trace as one-line server-sent events") {
    const auto span = http::encode_span_event(make_span(1, "root"));
    CHECK(span->starts_with("event: span\ndata: {\"trace_id\":\"00000000000000000000000000000042\""));
    CHECK(span->ends_with("}\n\n"));
    CHECK(span->find('\n', 18) == span->size() - 2);  // the data is one line
    auto trace = make_trace();
    trace.spans[0].inputs = "{\"a\":\r\n1}";  // CR/LF between tokens must not split the data line
    const auto ev = http::encode_trace_event(trace);
    CHECK(ev->starts_with("event: trace\ndata: {\"trace_id\":"));
    CHECK(ev->find("\"spans\":[") != std::string::npos);
    CHECK(ev->find('\r') == std::string::npos);
    CHECK(ev->find('\n', 19) == ev->size() - 2);
  }

  TEST_CASE("delivers matching events, encoded once and shared, and wakes the subscriber") {
    StreamHub hub;
    std::atomic<int> wakes{0};
    auto a = hub.subscribe(query("run-a"), [&] { ++wakes; });
    auto b = hub.subscribe(query(), [] {});
    auto other = hub.subscribe(query("run-b"), [] {});
    CHECK(hub.counters().subscribers == 3);
    hub.publish_span(make_span(1, "root"));
    hub.publish_trace(make_trace());
    CHECK(wakes == 1);  // folded until the session rearms
    auto got_a = a->take();
    auto got_b = b->take();
    REQUIRE(got_a.size() == 2);
    REQUIRE(got_b.size() == 2);
    CHECK(got_a[0].get() == got_b[0].get());  // one encoding for every subscriber
    CHECK(got_a[0]->starts_with("event: span"));
    CHECK(got_a[1]->starts_with("event: trace"));
    CHECK(other->take().empty());
    a->rearm();
    hub.publish_span(make_span(2, "child"));
    CHECK(wakes == 2);
  }

  TEST_CASE("wants_spans follows the subscribers that asked for span events") {
    StreamHub hub;
    CHECK_FALSE(hub.wants_spans());
    auto traces_only = hub.subscribe(query({}, false, true), [] {});
    CHECK_FALSE(hub.wants_spans());
    hub.publish_span(make_span(1, "root"));
    CHECK(traces_only->take().empty());
    auto spans = hub.subscribe(query({}, true, false), [] {});
    CHECK(hub.wants_spans());
    hub.publish_trace(make_trace());
    CHECK(spans->take().empty());
    hub.unsubscribe(spans);
    hub.unsubscribe(spans);  // idempotent
    CHECK_FALSE(hub.wants_spans());
    CHECK(hub.counters().subscribers == 1);
  }

  TEST_CASE("a subscriber whose backlog reaches the burst bound is dropped and counted, the others keep going") {
    const auto one = http::encode_trace_event(make_trace())->size();
    StreamHub hub(one * 3);
    auto slow = hub.subscribe(query(), [] {});
    auto fast = hub.subscribe(query(), [] {});
    for (std::size_t i = 0; i < 3 * StreamSubscriber::burst_factor + 2; ++i) {
      hub.publish_trace(make_trace());
      CHECK(fast->take().size() == 1);  // the healthy one reads as it goes
    }
    CHECK(slow->state() == StreamSubscriber::State::dropped);
    CHECK(slow->take().empty());
    CHECK(fast->state() == StreamSubscriber::State::open);
    const auto c = hub.counters();
    CHECK(c.subscribers == 1);
    CHECK(c.dropped_slow_reader == 1);
    hub.count_slow_reader();
    CHECK(hub.counters().dropped_slow_reader == 2);
  }

  TEST_CASE("a burst over the bound reaches a reader that takes it in time and a backlog left there too long drops it") {
    using namespace std::chrono_literals;
    const auto event = http::encode_trace_event(make_trace());
    const auto t0 = std::chrono::steady_clock::time_point(100h);
    StreamSubscriber reader(query(), event->size() * 4);
    // A burst of ten events at once: 2.5 bounds queued before the reader wakes up.
    for (int i = 0; i < 10; ++i) CHECK(reader.push(event, t0 + 1ms * i));
    CHECK(reader.take().size() == 10);  // it kept up: the next burst starts from nothing
    for (int i = 0; i < 10; ++i) CHECK(reader.push(event, t0 + 500ms + 1ms * i));
    CHECK(reader.state() == StreamSubscriber::State::open);
    // Over the bound since t0 + 504ms: still there past slow_after, the reader is slow.
    CHECK(reader.push(event, t0 + 504ms + StreamSubscriber::slow_after - 1ms));
    CHECK_FALSE(reader.push(event, t0 + 504ms + StreamSubscriber::slow_after));
    CHECK(reader.state() == StreamSubscriber::State::dropped);
    CHECK(reader.take().empty());
  }

  TEST_CASE("an event larger than the whole bound reaches a reader that keeps up") {
    const auto one = http::encode_trace_event(make_trace())->size();
    StreamHub hub(one / 2);  // every event is twice the bound
    auto reader = hub.subscribe(query(), [] {});
    for (int i = 0; i < 5; ++i) {
      hub.publish_trace(make_trace());
      CHECK(reader->state() == StreamSubscriber::State::open);
      CHECK(reader->take().size() == 1);
    }
    // Behind by burst_factor bounds of such events, it is dropped.
    for (std::size_t i = 0; i < StreamSubscriber::burst_factor / 2 + 2; ++i) hub.publish_trace(make_trace());
    CHECK(reader->state() == StreamSubscriber::State::dropped);
    CHECK(hub.counters().dropped_slow_reader == 1);
  }

  TEST_CASE("close_all closes every subscriber and refuses new ones") {
    StreamHub hub;
    std::atomic<int> wakes{0};
    auto a = hub.subscribe(query(), [&] { ++wakes; });
    hub.close_all();
    CHECK(a->state() == StreamSubscriber::State::closed);
    CHECK(wakes == 1);
    CHECK_FALSE(hub.wants_spans());
    CHECK(hub.counters().subscribers == 0);
    auto late = hub.subscribe(query(), [] {});
    CHECK(late->state() == StreamSubscriber::State::closed);
    hub.publish_trace(make_trace());
    CHECK(late->take().empty());
    CHECK(hub.counters().dropped_slow_reader == 0);
  }

  TEST_CASE("the fan-out exporter publishes into the hub and always reports ok") {
    auto hub = std::make_shared<StreamHub>();
    auto exporter = http::make_stream_exporter(hub);
    CHECK(exporter->name() == "stream");
    CHECK(exporter->wants_spans());
    CHECK(exporter->export_trace(make_trace()) == exporters::ExportStatus::ok);  // nobody listens: still ok
    auto sub = hub->subscribe(query(), [] {});
    CHECK(exporter->export_span(make_span(1, "root")) == exporters::ExportStatus::ok);
    CHECK(exporter->export_trace(make_trace()) == exporters::ExportStatus::ok);
    CHECK(sub->take().size() == 2);
  }
}
