#pragma once
// The live stream's hub (GET /api/stream): finished spans and traces arrive from the
// fan-out (the hub is an exporter there, with its own worker thread and bounded queue, so
// it never slows ingest), are encoded once as server-sent events and handed to every
// subscriber whose filter matches. Each subscriber has a bounded byte queue; one that
// falls behind is dropped (and counted), never waited for.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/export/exporter.hpp"
#include "daemon/http/query.hpp"
#include "protocol/span.hpp"

namespace tracecol::http {

/** An encoded event ("event: span\ndata: {...}\n\n"), shared by every subscriber it goes to. */
using SseEvent = std::shared_ptr<const std::string>;

/** "event: span\ndata: <span object>\n\n" (no depth: a lone span has no tree position). */
SseEvent encode_span_event(const protocol::Span& span);
/** "event: trace\ndata: <the trace record of GET /api/traces/{id}>\n\n". */
SseEvent encode_trace_event(const protocol::Trace& trace);

inline constexpr std::size_t default_stream_queue_bytes = 1u << 20;

/**
 * One /api/stream connection's side of the hub. Thread-safe: the hub's worker pushes,
 * the connection's session takes, either may close it.
 */
class StreamSubscriber {
 public:
  enum class State { open, dropped, closed };

  StreamSubscriber(StreamQuery query, std::size_t max_queued_bytes);

  const StreamQuery& query() const { return query_; }

  /**
   * Set once, before the hub is told about the subscriber: called (from any thread, must
   * not block) when events were queued or the state left open. Repeated calls before the
   * session took the queue are folded into one.
   */
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }
  /** The session, from its wake handler: the next push or close may call wake again. */
  void rearm() { wake_pending_.store(false); }

  /** Every queued event, oldest first; the queue is empty afterwards. */
  std::vector<SseEvent> take();
  State state() const;

  /**
   * Hub side: queues e; false (and the state becomes dropped) when the reader is slow: its
   * backlog has stayed at or over the byte bound for slow_after since its last take(), or
   * reached burst_factor times the bound. A burst (one POST of 200 big traces, a flush at
   * shutdown) is published faster than any reader can take it: a reader that keeps up
   * takes it within slow_after and stays. An event larger than the bound is taken by a
   * queue below it.
   */
  bool push(const SseEvent& e) { return push(e, std::chrono::steady_clock::now()); }
  bool push(const SseEvent& e, std::chrono::steady_clock::time_point now);

  static constexpr std::size_t burst_factor = 16;
  static constexpr std::chrono::seconds slow_after{1};
  /** Ends the subscription (shutdown, peer gone); the queue is discarded. */
  void close(State why = State::closed);

 private:
  void wake();

  const StreamQuery query_;
  const std::size_t max_bytes_;
  std::function<void()> wake_;
  std::atomic<bool> wake_pending_{false};
  mutable std::mutex mu_;
  std::vector<SseEvent> queue_;
  std::size_t queued_bytes_ = 0;
  std::chrono::steady_clock::time_point behind_since_{};  // backlog reached the bound (epoch: not behind)
  State state_ = State::open;
};

/** The stream's gauges and counters for /metrics. */
struct StreamCounters {
  std::uint64_t subscribers = 0;           // subscribed now
  std::uint64_t dropped_slow_reader = 0;   // disconnected for falling behind
};

/**
 * The subscribers and the publishing side. publish_span / publish_trace are called by the
 * fan-out worker of the exporter from make_exporter(); everything else from any thread.
 */
class StreamHub {
 public:
  explicit StreamHub(std::size_t max_queued_bytes = default_stream_queue_bytes) : max_bytes_(max_queued_bytes) {}

  /**
   * Registers a subscriber; wake (see StreamSubscriber::set_wake) is set before it becomes
   * visible to the publisher. After close_all() the subscriber comes back closed.
   */
  std::shared_ptr<StreamSubscriber> subscribe(StreamQuery query, std::function<void()> wake);
  /** Removes it (idempotent); a dropped subscriber is already gone. */
  void unsubscribe(const std::shared_ptr<StreamSubscriber>& subscriber);

  void publish_span(const protocol::Span& span);
  void publish_trace(const protocol::Trace& trace);

  /** True while some subscriber asked for span events: lets ingest skip span publishing otherwise. */
  bool wants_spans() const { return span_subscribers_.load(std::memory_order_relaxed) > 0; }

  /** Shutdown: closes every subscriber (their sessions end) and refuses new ones. Idempotent. */
  void close_all();

  /** A session gave up on a peer that stopped reading (write timeout): counted as slow_reader. */
  void count_slow_reader() { dropped_slow_.fetch_add(1, std::memory_order_relaxed); }

  StreamCounters counters() const;

 private:
  /** Under mu_: pushes e (encoded on first need) to matching subscribers; drops the ones that overflow. */
  template <class Matches, class Encode>
  void fan(bool StreamQuery::*wants, Matches matches, Encode encode);
  void forget_locked(std::size_t index);

  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<StreamSubscriber>> subscribers_;
  bool closed_ = false;
  std::atomic<std::uint64_t> subscriber_count_{0};
  std::atomic<std::uint64_t> span_subscribers_{0};
  std::atomic<std::uint64_t> dropped_slow_{0};
};

/**
 * The fan-out exporter ("stream") that feeds hub: export_trace / export_span publish and
 * return ok (an event nobody matched is not a failure). It wants spans, but the pipeline
 * publishes spans only while hub->wants_spans().
 */
std::unique_ptr<exporters::Exporter> make_stream_exporter(std::shared_ptr<StreamHub> hub);

}  // namespace tracecol::http
