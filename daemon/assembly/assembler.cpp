#include "daemon/assembly/assembler.hpp"

#include <algorithm>
#include <atomic>
#include <list>
#include <unordered_map>

#include "daemon/assembly/open_trace.hpp"

namespace tracecol::assembly {

using protocol::Event;
using protocol::EventType;
using protocol::Span;
using protocol::Trace;
using protocol::TraceId;

namespace {

constexpr std::size_t linear_scan_limit = 32;  // beyond this a trace gets a span_id index

struct Counters {
  std::atomic<std::uint64_t> spans_accepted{0}, spans_merged{0}, spans_late{0}, spans_rejected{0},
      traces_started{0}, traces_completed{0}, traces_timed_out{0}, traces_flushed_open{0}, traces_published{0},
      follow_ups_published{0}, traces_sampled_out{0}, spans_published{0}, spans_sampled_out{0};
};

void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

}  // namespace

bool sampled_in(const TraceId& id, double sample_rate) {
  if (sample_rate >= 1.0) return true;
  if (sample_rate <= 0.0) return false;
  // The low 64 bits of a trace id are random; mix them so short, sequential ids spread too.
  std::uint64_t x = id.lo ^ (id.hi * 0x9E3779B97F4A7C15ULL);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return static_cast<double>(x >> 11) / 9007199254740992.0 < sample_rate;
}

struct Assembler::Impl {
  AssemblerOptions options;
  store::TraceStore& store;
  Publish publish;
  std::unordered_map<TraceId, OpenTrace, protocol::TraceIdHash> open;
  std::list<TraceId> lru;  // open traces, least recent event first
  std::vector<TracePtr> finished;  // published at the end of each call
  std::vector<std::shared_ptr<Trace>> follow_ups;  // late spans of this call, one record per trace
  Counters counters;
  Clock::time_point last_now{};

  Impl(AssemblerOptions o, store::TraceStore& s, Publish p) : options(o), store(s), publish(std::move(p)) {
    store.set_evict_callback([this](std::shared_ptr<Trace>&& trace) { on_evict(std::move(trace)); });
  }

  void emit(TracePtr trace) {
    const std::size_t spans = trace->spans.size();
    const bool keep = sampled_in(trace->trace_id, options.sample_rate) ||
                      (options.sample_keep_errors && trace->error_count() > 0);
    if (!keep) {
      bump(counters.traces_sampled_out);
      bump(counters.spans_sampled_out, spans);
      return;
    }
    bump(counters.traces_published);
    bump(counters.spans_published, spans);
    if (trace->follow_up) bump(counters.follow_ups_published);
    finished.push_back(std::move(trace));
  }

  void flush_published() {
    for (auto& f : follow_ups) emit(std::move(f));
    follow_ups.clear();
    if (!finished.empty()) {
      std::vector<TracePtr> out;
      out.swap(finished);
      publish(std::move(out));
    }
  }

  void on_evict(std::shared_ptr<Trace>&& trace) {
    // The store drops an open trace to stay in bounds: export it as it stands first.
    if (auto it = open.find(trace->trace_id); it != open.end()) {
      lru.erase(it->second.lru);
      open.erase(it);
    }
    trace->complete = false;
    bump(counters.traces_flushed_open);
    emit(std::move(trace));
  }

  void complete(store::TraceStore::Transaction& txn, const TraceId& id, bool complete_flag) {
    auto it = open.find(id);
    if (it == open.end()) return;
    lru.erase(it->second.lru);
    open.erase(it);
    if (Trace* t = txn.find_open(id)) {
      t->complete = complete_flag;
      if (t->run_id.empty()) {
        for (const Span& s : t->spans)
          if (!s.run_id.empty()) { txn.set_run_id(id, s.run_id); break; }
      }
    }
    if (TracePtr frozen = txn.mark_exported(id)) emit(std::move(frozen));
  }

  void touch(OpenTrace& o, Clock::time_point now) {
    o.last_event = now;
    lru.splice(lru.end(), lru, o.lru);
  }

  /** A late span for an exported trace: into the stored copy and this call's follow-up record. */
  bool add_late(store::TraceStore::Transaction& txn, Span&& span, bool is_end) {
    const TraceId id = span.trace_id;
    Trace* stored = txn.thaw(id);
    if (Span* known = find_span(*stored, span.span_id, nullptr)) {
      const std::size_t before = known->footprint();
      merge_span(*known, std::move(span), is_end);
      txn.add_bytes(id, static_cast<std::ptrdiff_t>(known->footprint()) - static_cast<std::ptrdiff_t>(before), 0);
      bump(counters.spans_merged);
      txn.refreeze(id);
      return true;
    }
    if (stored->spans.size() >= options.max_spans_per_trace) {
      txn.refreeze(id);
      return false;
    }
    span.late = true;
    auto record = std::find_if(follow_ups.begin(), follow_ups.end(), [&](const auto& t) { return t->trace_id == id; });
    if (record == follow_ups.end()) {
      auto fresh = std::make_shared<Trace>();
      fresh->trace_id = id;
      fresh->run_id = stored->run_id;
      fresh->complete = true;
      fresh->follow_up = true;
      follow_ups.push_back(std::move(fresh));
      record = std::prev(follow_ups.end());
    }
    (*record)->spans.push_back(span);
    txn.add_bytes(id, static_cast<std::ptrdiff_t>(span.footprint()), 1);
    stored->spans.push_back(std::move(span));
    txn.refreeze(id);
    bump(counters.spans_accepted);
    bump(counters.spans_late);
    return true;
  }

  /** Adds or merges one span; false when the trace is full (too_many_spans). */
  bool add_span(store::TraceStore::Transaction& txn, Span&& span, bool is_end, Clock::time_point now) {
    const TraceId id = span.trace_id;
    auto it = open.find(id);
    if (it == open.end()) {
      if (txn.contains(id)) return add_late(txn, std::move(span), is_end);
      Trace& fresh = txn.insert(id);
      (void)fresh;
      it = open.emplace(id, OpenTrace{}).first;
      it->second.lru = lru.insert(lru.end(), id);
      bump(counters.traces_started);
    }
    OpenTrace& o = it->second;
    touch(o, now);
    Trace& trace = *txn.find_open(id);
    if (Span* known = find_span(trace, span.span_id, o.index.get())) {
      const std::size_t before = known->footprint();
      o.account(*known, -1);
      merge_span(*known, std::move(span), is_end);
      o.account(*known, +1);
      txn.add_bytes(id, static_cast<std::ptrdiff_t>(known->footprint()) - static_cast<std::ptrdiff_t>(before), 0);
      bump(counters.spans_merged);
      return true;
    }
    if (trace.spans.size() >= options.max_spans_per_trace) return false;
    if (is_end && !span.has(protocol::field_started_at)) span.started_at_ns = span.ended_at_ns;  // placeholder
    if (trace.run_id.empty() && !span.run_id.empty()) txn.set_run_id(id, span.run_id);
    if (span.run_id.empty()) span.run_id = trace.run_id;  // a span belongs to its trace's run
    o.account(span, +1);
    txn.add_bytes(id, static_cast<std::ptrdiff_t>(span.footprint()), 1);
    trace.spans.push_back(std::move(span));
    if (o.index) {
      o.index->emplace(trace.spans.back().span_id, static_cast<std::uint32_t>(trace.spans.size() - 1));
    } else if (trace.spans.size() > linear_scan_limit) {
      o.index = std::make_unique<std::unordered_map<protocol::SpanId, std::uint32_t>>();
      for (std::uint32_t i = 0; i < trace.spans.size(); ++i) o.index->emplace(trace.spans[i].span_id, i);
    }
    bump(counters.spans_accepted);
    return true;
  }

  void apply(std::span<Event> events, Clock::time_point now, std::vector<Rejection>* rejected) {
    last_now = now;
    {
      auto txn = store.begin();
      for (std::size_t i = 0; i < events.size(); ++i) {
        Event& e = events[i];
        bool ok = true;
        switch (e.type) {
          case EventType::span:
          case EventType::span_start:
          case EventType::span_end:
            ok = add_span(txn, std::move(e.span), e.type == EventType::span_end, now);
            break;
          case EventType::trace: {
            for (Span& s : e.spans) ok = add_span(txn, std::move(s), false, now) && ok;
            if (!txn.contains(e.trace_id)) {  // an empty trace event still makes a (spanless) trace
              txn.insert(e.trace_id);
              auto& o = open.emplace(e.trace_id, OpenTrace{}).first->second;
              o.lru = lru.insert(lru.end(), e.trace_id);
              bump(counters.traces_started);
            }
            if (!e.run_id.empty()) txn.set_run_id(e.trace_id, e.run_id);
            if (open.contains(e.trace_id)) {
              bump(counters.traces_completed);
              complete(txn, e.trace_id, true);
            }
            break;
          }
          case EventType::trace_end:
            if (open.contains(e.trace_id)) {
              if (!e.run_id.empty()) txn.set_run_id(e.trace_id, e.run_id);
              bump(counters.traces_completed);
              complete(txn, e.trace_id, true);
            }
            break;
          case EventType::flush:
          case EventType::hello:
            break;
        }
        if (!ok) {
          bump(counters.spans_rejected);
          if (rejected != nullptr) rejected->push_back({i, protocol::RejectReason::too_many_spans});
        }
      }
    }  // the transaction ends here: byte-bound evictions run and may add to `finished`
    flush_published();
  }

  void tick(Clock::time_point now) {
    last_now = now;
    const auto first_rule = std::min(options.trace_linger, options.trace_idle_timeout);
    {
      auto txn = store.begin();
      for (auto it = lru.begin(); it != lru.end();) {
        const TraceId id = *it++;
        OpenTrace& o = open.at(id);
        const auto quiet = now - o.last_event;
        if (quiet < first_rule) break;  // the list is ordered by last event: the rest is younger
        if (o.ready() && quiet >= options.trace_linger) {
          bump(counters.traces_completed);
          complete(txn, id, true);
        } else if (quiet >= options.trace_idle_timeout) {
          bump(counters.traces_timed_out);
          complete(txn, id, false);
        }
      }
    }
    flush_published();
  }

  Clock::time_point next_deadline() const {
    if (lru.empty()) return Clock::time_point::max();
    const auto first_rule = std::min(options.trace_linger, options.trace_idle_timeout);
    const auto oldest_due = open.at(lru.front()).last_event + first_rule;
    // An old trace that is not ready yet keeps the oldest deadline in the past: then look
    // again soon rather than spin.
    return std::max(oldest_due, last_now + std::chrono::milliseconds(50));
  }

  void finish_all() {
    {
      auto txn = store.begin();
      while (!lru.empty()) {
        const TraceId id = lru.front();
        bump(counters.traces_flushed_open);
        complete(txn, id, false);
      }
    }
    flush_published();
  }
};

Assembler::Assembler(AssemblerOptions options, store::TraceStore& store, Publish publish)
    : impl_(std::make_unique<Impl>(options, store, std::move(publish))) {}
Assembler::~Assembler() { impl_->store.set_evict_callback(nullptr); }

void Assembler::apply(std::span<Event> events, Clock::time_point now, std::vector<Rejection>* rejected) {
  impl_->apply(events, now, rejected);
}
void Assembler::tick(Clock::time_point now) { impl_->tick(now); }
Clock::time_point Assembler::next_deadline() const { return impl_->next_deadline(); }
void Assembler::finish_all() { impl_->finish_all(); }
std::size_t Assembler::open_traces() const { return impl_->open.size(); }

AssemblerCounters Assembler::counters() const {
  const Counters& c = impl_->counters;
  auto v = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {v(c.spans_accepted),   v(c.spans_merged),         v(c.spans_late),         v(c.spans_rejected),
          v(c.traces_started),   v(c.traces_completed),     v(c.traces_timed_out),   v(c.traces_flushed_open),
          v(c.traces_published), v(c.follow_ups_published), v(c.traces_sampled_out), v(c.spans_published),
          v(c.spans_sampled_out)};
}

}  // namespace tracecol::assembly
