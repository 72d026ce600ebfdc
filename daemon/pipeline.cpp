#include "daemon/pipeline.hpp"

#include <algorithm>

namespace tracecol::daemon {

using assembly::Clock;

Pipeline::Pipeline(net::io_context& io, assembly::AssemblerOptions assembler_options,
                   store::StoreLimits limits, exporters::FanOut& fan_out)
    : strand_(net::make_strand(io)),
      tick_timer_(strand_),
      fan_out_(fan_out),
      store_(limits),
      assembler_(assembler_options, store_, [this](std::vector<assembly::TracePtr>&& traces) {
        if (deferring_) {
          for (auto& t : traces) deferred_.push_back(std::move(t));
          return;
        }
        fan_out_.publish(std::span<const assembly::TracePtr>(traces));
      }) {}

void Pipeline::start() {
  net::post(strand_, [this] { schedule_tick(); });
}

void Pipeline::submit(ingest::IngestBatch&& batch, Done done) {
  net::post(strand_, [this, batch = std::move(batch), done = std::move(done)]() mutable {
    std::vector<assembly::Rejection> rejected;
    std::vector<SpanKey> finishing;
    // One gate call per batch: with nobody listening, no span is looked up or copied.
    if (spans_wanted_ && spans_wanted_()) {
      for (std::size_t i = 0; i < batch.events.size(); ++i) {
        const auto& e = batch.events[i];
        if (e.type == protocol::EventType::span_end || (e.type == protocol::EventType::span && e.span.ended())) {
          finishing.push_back({e.span.trace_id, e.span.span_id, i, true});
        } else if (e.type == protocol::EventType::trace) {
          // A refused trace event may still have applied its other spans: those stream.
          for (const auto& s : e.spans)
            if (s.ended()) finishing.push_back({s.trace_id, s.span_id, i, false});
        }
      }
    }
    deferring_ = !finishing.empty();
    std::vector<assembly::Unchanged> unchanged;
    assembler_.apply(batch.events, Clock::now(), &rejected, deferring_ ? &unchanged : nullptr);
    if (deferring_) {
      deferring_ = false;
      publish_finished_spans(finishing, rejected, unchanged);
      std::vector<assembly::TracePtr> traces;
      traces.swap(deferred_);
      if (!traces.empty()) fan_out_.publish(std::span<const assembly::TracePtr>(traces));
    }
    std::vector<ingest::AppliedRejection> out;
    out.reserve(rejected.size());
    for (const auto& r : rejected) out.push_back({r.index, r.reason});
    if (finished_) {
      // A batch that arrived after finish_all(): export what it opened rather than lose it.
      assembler_.finish_all();
    } else {
      schedule_tick();
    }
    done(std::move(out));
  });
}

void Pipeline::schedule_tick() {
  // Wake when the assembler next has work, but at least every second (cheap) and at most
  // every 10 ms (so a burst of near deadlines is handled in one pass).
  const auto now = Clock::now();
  const auto next = std::clamp(assembler_.next_deadline(), now + std::chrono::milliseconds(10),
                               now + std::chrono::seconds(1));
  if (tick_timer_.expiry() > now && tick_timer_.expiry() <= next) return;  // an earlier wake is set
  tick_timer_.expires_at(next);
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || finished_) return;
    assembler_.tick(Clock::now());
    schedule_tick();
  });
}

void Pipeline::publish_finished_spans(const std::vector<SpanKey>& keys, const std::vector<assembly::Rejection>& rejected,
                                      const std::vector<assembly::Unchanged>& unchanged) {
  std::vector<exporters::SpanPtr> spans;
  // A refused span_end (say, a second one ending the span before its start) changed
  // nothing: the stored span must not stream again as though it had just finished. Nor
  // must a copy that said nothing new (the span again inside the agent's export(trace)).
  auto refused = rejected.begin();
  auto same = unchanged.begin();
  const auto was_refused = [&](const SpanKey& key) {
    while (refused != rejected.end() && refused->index < key.event) ++refused;
    if (key.whole_event && refused != rejected.end() && refused->index == key.event) return true;
    while (same != unchanged.end() && same->index < key.event) ++same;
    for (auto it = same; it != unchanged.end() && it->index == key.event; ++it)
      if (it->span_id == key.span_id) return true;
    return false;
  };
  {
    // The writer's own strand: a transaction only to peek (no insert, so pointers hold).
    auto txn = store_.begin();
    const protocol::Trace* trace = nullptr;
    const SpanKey* peeked = nullptr;  // whose trace `trace` is
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (was_refused(keys[i])) continue;
      if (peeked == nullptr || !(keys[i].trace_id == peeked->trace_id)) trace = txn.peek(keys[i].trace_id);
      peeked = &keys[i];
      if (trace == nullptr) continue;  // rejected or already evicted
      // Newest first: a span usually ends soon after it arrived.
      for (auto it = trace->spans.rbegin(); it != trace->spans.rend(); ++it) {
        if (it->span_id != keys[i].span_id) continue;
        if (it->ended()) spans.push_back(std::make_shared<const protocol::Span>(*it));
        break;
      }
    }
  }
  if (!spans.empty()) fan_out_.publish_spans(spans);
}

void Pipeline::finish() {
  finished_ = true;
  tick_timer_.cancel();
  assembler_.finish_all();
}

}  // namespace tracecol::daemon
