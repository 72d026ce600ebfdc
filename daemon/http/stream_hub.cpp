#include "daemon/http/stream_hub.hpp"

#include <algorithm>

#include "daemon/store/trace_store.hpp"
#include "protocol/encoder.hpp"

namespace tracecol::http {
namespace {

/**
 * Stored JSON is one line except for CR / LF as whitespace between tokens (inside strings
 * they are escaped): either would end an SSE data line early, so they become spaces.
 */
SseEvent finish(std::string&& text, std::size_t data_begin) {
  std::replace_if(text.begin() + static_cast<std::ptrdiff_t>(data_begin), text.end(),
                  [](char c) { return c == '\n' || c == '\r'; }, ' ');
  text += "\n\n";
  return std::make_shared<const std::string>(std::move(text));
}

class StreamExporter final : public exporters::Exporter {
 public:
  explicit StreamExporter(std::shared_ptr<StreamHub> hub) : hub_(std::move(hub)) {}
  std::string_view name() const override { return "stream"; }
  exporters::ExportStatus export_trace(const protocol::Trace& trace) override {
    hub_->publish_trace(trace);
    return exporters::ExportStatus::ok;
  }
  exporters::ExportStatus export_span(const protocol::Span& span) override {
    hub_->publish_span(span);
    return exporters::ExportStatus::ok;
  }
  bool wants_spans() const override { return true; }

 private:
  std::shared_ptr<StreamHub> hub_;
};

}  // namespace

SseEvent encode_span_event(const protocol::Span& span) {
  std::string text = "event: span\ndata: ";
  const std::size_t data_begin = text.size();
  protocol::append_span_json(text, span);
  return finish(std::move(text), data_begin);
}

SseEvent encode_trace_event(const protocol::Trace& trace) {
  std::string text = "event: trace\ndata: ";
  const std::size_t data_begin = text.size();
  protocol::append_trace_json(text, trace);
  return finish(std::move(text), data_begin);
}

StreamSubscriber::StreamSubscriber(StreamQuery query, std::size_t max_queued_bytes)
    : query_(std::move(query)), max_bytes_(max_queued_bytes) {}

std::vector<SseEvent> StreamSubscriber::take() {
  std::vector<SseEvent> out;
  std::lock_guard lock(mu_);
  out.swap(queue_);
  queued_bytes_ = 0;
  behind_since_ = {};
  return out;
}

StreamSubscriber::State StreamSubscriber::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

bool StreamSubscriber::push(const SseEvent& e, std::chrono::steady_clock::time_point now) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::open) return true;  // already leaving: nothing to queue, nothing to count
    // The bound is on the backlog already waiting, not on the event: one trace record
    // bigger than the whole bound (a few long prompts make one) must reach a reader that
    // keeps up, not drop every subscriber as "slow". A subscriber holds at most
    // burst_factor bounds plus one event, and events are shared with the others.
    bool slow = false;
    if (queued_bytes_ >= max_bytes_) {
      if (behind_since_ == std::chrono::steady_clock::time_point{}) behind_since_ = now;
      slow = queued_bytes_ >= burst_factor * max_bytes_ || now - behind_since_ >= slow_after;
    }
    if (slow) {
      state_ = State::dropped;
      queue_.clear();
      queued_bytes_ = 0;
    } else {
      queue_.push_back(e);
      queued_bytes_ += e->size();
    }
  }
  wake();
  return state() != State::dropped;
}

void StreamSubscriber::close(State why) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::open) return;
    state_ = why;
    queue_.clear();
    queued_bytes_ = 0;
  }
  wake();
}

void StreamSubscriber::wake() {
  if (wake_ && !wake_pending_.exchange(true)) wake_();
}

std::shared_ptr<StreamSubscriber> StreamHub::subscribe(StreamQuery query, std::function<void()> wake) {
  auto sub = std::make_shared<StreamSubscriber>(std::move(query), max_bytes_);
  sub->set_wake(std::move(wake));
  std::lock_guard lock(mu_);
  if (closed_) {
    sub->close();
    return sub;
  }
  subscribers_.push_back(sub);
  subscriber_count_.fetch_add(1, std::memory_order_relaxed);
  if (sub->query().spans) span_subscribers_.fetch_add(1, std::memory_order_relaxed);
  return sub;
}

void StreamHub::forget_locked(std::size_t index) {
  if (subscribers_[index]->query().spans) span_subscribers_.fetch_sub(1, std::memory_order_relaxed);
  subscriber_count_.fetch_sub(1, std::memory_order_relaxed);
  subscribers_[index] = std::move(subscribers_.back());
  subscribers_.pop_back();
}

void StreamHub::unsubscribe(const std::shared_ptr<StreamSubscriber>& subscriber) {
  std::lock_guard lock(mu_);
  auto it = std::find(subscribers_.begin(), subscribers_.end(), subscriber);
  if (it != subscribers_.end()) forget_locked(static_cast<std::size_t>(it - subscribers_.begin()));
}

template <class Matches, class Encode>
void StreamHub::fan(bool StreamQuery::*wants, Matches matches, Encode encode) {
  SseEvent event;  // encoded once, for the first subscriber that matches
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < subscribers_.size();) {
    StreamSubscriber& sub = *subscribers_[i];
    if (!(sub.query().*wants) || !matches(sub.query().filter)) {
      ++i;
      continue;
    }
    if (!event) event = encode();
    if (sub.push(event)) {
      ++i;
      continue;
    }
    dropped_slow_.fetch_add(1, std::memory_order_relaxed);
    forget_locked(i);  // the slot now holds another subscriber: look at i again
  }
}

void StreamHub::publish_span(const protocol::Span& span) {
  fan(&StreamQuery::spans, [&](const store::TraceFilter& f) { return store::span_matches(span, f); },
      [&] { return encode_span_event(span); });
}

void StreamHub::publish_trace(const protocol::Trace& trace) {
  fan(&StreamQuery::traces, [&](const store::TraceFilter& f) { return store::trace_matches(trace, f); },
      [&] { return encode_trace_event(trace); });
}

void StreamHub::close_all() {
  std::vector<std::shared_ptr<StreamSubscriber>> closing;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    closing.swap(subscribers_);
    subscriber_count_.store(0, std::memory_order_relaxed);
    span_subscribers_.store(0, std::memory_order_relaxed);
  }
  for (auto& sub : closing) sub->close();
}

StreamCounters StreamHub::counters() const {
  return {subscriber_count_.load(std::memory_order_relaxed), dropped_slow_.load(std::memory_order_relaxed)};
}

std::unique_ptr<exporters::Exporter> make_stream_exporter(std::shared_ptr<StreamHub> hub) {
  return std::make_unique<StreamExporter>(std::move(hub));
}

}  // namespace tracecol::http
