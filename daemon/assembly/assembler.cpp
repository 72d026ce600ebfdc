#include "daemon/assembly/assembler.hpp"

#include <algorithm>
#include <atomic>
#include <list>
#include <optional>
#include <unordered_map>

#include "daemon/assembly/evicted_ids.hpp"
#include "daemon/assembly/late_spans.hpp"
#include "daemon/assembly/open_trace.hpp"

namespace tracecol::assembly {

using protocol::Event;
using protocol::EventType;
using protocol::Span;
using protocol::Trace;
using protocol::TraceId;
using Txn = store::TraceStore::Transaction;

namespace {

struct Counters {
  std::atomic<std::uint64_t> spans_accepted{0}, spans_merged{0}, spans_late{0}, spans_rejected{0},
      traces_started{0}, traces_completed{0}, traces_timed_out{0}, traces_flushed_open{0}, traces_published{0},
      follow_ups_published{0}, traces_sampled_out{0}, spans_published{0}, spans_sampled_out{0},
      span_updates_published{0}, span_updates_sampled_out{0}, trace_ends_ignored{0};
  std::atomic<std::uint64_t> spans_open{0};  // a gauge: up when a span joins an open trace, down when it leaves
};

void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
void drop(std::atomic<std::uint64_t>& c, std::uint64_t n) { c.fetch_sub(n, std::memory_order_relaxed); }

/** Why the assembler refused an event; empty when it applied it. */
using Refusal = std::optional<protocol::RejectReason>;

}  // namespace

struct Assembler::Impl {
  AssemblerOptions options;
  store::TraceStore& store;
  Publish publish;
  std::unordered_map<TraceId, OpenTrace, protocol::TraceIdHash> open;
  std::list<TraceId> lru;    // every open trace, least recent event first (idle timeout)
  std::list<TraceId> ready;  // open traces that ready(), least recent event first (linger)
  std::list<TraceId> rootless;  // open traces that rootless(), least recent event first (rootless linger)
  std::vector<TracePtr> finished;                   // published at the end of each call
  LateSpans late;                                   // this apply's late spans
  EvictedIds evicted;                               // a span for one of these is late, not a new trace
  Counters counters;
  std::vector<Unchanged>* unchanged_out = nullptr;  // during apply(): where no-op copies are noted
  std::size_t event_index = 0;                      // during apply(): the event being applied

  void note_unchanged(protocol::SpanId id) {
    if (unchanged_out != nullptr) unchanged_out->push_back({event_index, id});
  }

  Impl(AssemblerOptions o, store::TraceStore& s, Publish p)
      : options(o), store(s), publish(std::move(p)), evicted(o.evicted_ids_remembered) {
    store.set_evict_callback(
        [this](std::shared_ptr<Trace>&& trace, bool exported) { on_evict(std::move(trace), exported); });
  }

  /** An error anywhere in the trace keeps it; a follow-up asks the stored trace too. */
  bool has_error(const Trace& trace) const {
    if (trace.error_count() > 0) return true;
    // Follow-ups are emitted after the transaction (flush_published), so this lock is free.
    if (!trace.follow_up) return false;
    const TracePtr stored = store.get(trace.trace_id);
    return stored && stored->error_count() > 0;
  }

  void emit(TracePtr trace) {
    std::size_t updates = 0;  // only follow-ups hold updates
    if (trace->follow_up) updates = std::count_if(trace->spans.begin(), trace->spans.end(), [](const Span& s) { return s.update; });
    const std::size_t spans = trace->spans.size() - updates;
    const bool keep = sampled_in(trace->trace_id, options.sample_rate) ||
                      (options.sample_keep_errors && has_error(*trace));
    if (!keep) {
      bump(counters.traces_sampled_out);
      bump(counters.spans_sampled_out, spans);
      bump(counters.span_updates_sampled_out, updates);
      return;
    }
    bump(counters.traces_published);
    bump(counters.spans_published, spans);
    bump(counters.span_updates_published, updates);
    if (trace->follow_up) bump(counters.follow_ups_published);
    finished.push_back(std::move(trace));
  }

  void flush_published() {
    for (auto& f : late.take()) emit(std::move(f));
    if (!finished.empty()) {
      std::vector<TracePtr> out;
      out.swap(finished);
      publish(std::move(out));
    }
  }

  /** Drops a trace from the open bookkeeping (it is being exported). */
  void forget(std::unordered_map<TraceId, OpenTrace, protocol::TraceIdHash>::iterator it) {
    lru.erase(it->second.lru);
    if (it->second.lingering != nullptr) it->second.lingering->erase(it->second.linger_pos);
    open.erase(it);
  }

  void on_evict(std::shared_ptr<Trace>&& trace, bool exported) {
    evicted.remember(trace->trace_id);
    if (exported) return;
    // The store drops an open trace to stay in bounds: export it as it stands first.
    if (auto it = open.find(trace->trace_id); it != open.end()) forget(it);
    trace->complete = false;
    drop(counters.spans_open, trace->spans.size());
    bump(counters.traces_flushed_open);
    emit(std::move(trace));
  }

  void complete(Txn& txn, TraceId id, bool complete_flag) {  // by value: id may live in a list node it erases
    auto it = open.find(id);
    if (it == open.end()) return;
    forget(it);
    if (Trace* t = txn.find_open(id)) t->complete = complete_flag;
    if (TracePtr frozen = txn.mark_exported(id)) {
      drop(counters.spans_open, frozen->spans.size());
      emit(std::move(frozen));
    }
  }

  /**
   * Inserts a new open trace (precondition: the store does not hold it). An id the store
   * evicted after exporting it makes a follow-up: its spans are late, exported once in a
   * record of their own when it completes, like late spans of a trace still stored.
   */
  OpenTrace& start_trace(Txn& txn, const TraceId& id) {
    const bool follow_up = evicted.contains(id);
    txn.insert(id);   // may evict older traces, which runs on_evict
    late.forget(id);  // an exported namesake was evicted: its index is stale (its record stays)
    if (follow_up) txn.find_open(id)->follow_up = true;
    OpenTrace& o = open.emplace(id, OpenTrace{}).first->second;
    o.follow_up = follow_up;
    o.lru = lru.insert(lru.end(), id);
    bump(counters.traces_started);
    return o;
  }

  /**
   * An event reached an open trace: it moves to the back of the activity list, and of the
   * linger list its state now asks for (ready, rootless or none).
   */
  void touch(OpenTrace& o, Clock::time_point now) {
    o.last_event = now;
    lru.splice(lru.end(), lru, o.lru);
    std::list<TraceId>* want = o.ready() ? &ready : o.rootless() ? &rootless : nullptr;
    if (want != nullptr && want == o.lingering) {
      want->splice(want->end(), *want, o.linger_pos);
    } else {
      if (o.lingering != nullptr) o.lingering->erase(o.linger_pos);
      if (want != nullptr) o.linger_pos = want->insert(want->end(), *o.lru);
    }
    o.lingering = want;
  }

  /** A span for an exported trace: into the stored copy and this apply's follow-up record. */
  Refusal add_late(Txn& txn, Span&& span, bool is_end) {
    const protocol::SpanId id = span.span_id;
    switch (late.add(txn, std::move(span), is_end, options.max_spans_per_trace, options.max_trace_bytes)) {
      case LateSpans::Outcome::merged: bump(counters.spans_merged); break;
      case LateSpans::Outcome::unchanged:
        bump(counters.spans_merged);
        note_unchanged(id);
        break;
      case LateSpans::Outcome::added:
        bump(counters.spans_accepted);
        bump(counters.spans_late);
        break;
      case LateSpans::Outcome::too_many_spans: return protocol::RejectReason::too_many_spans;
      case LateSpans::Outcome::trace_too_large: return protocol::RejectReason::trace_too_large;
      case LateSpans::Outcome::bad_time: return protocol::RejectReason::bad_time;
    }
    return std::nullopt;
  }

  /**
   * Adds or merges one span. Refused: too_many_spans when the trace is full,
   * trace_too_large when it would pass max_trace_bytes, bad_time when merging would end
   * the span before its start (the stored span stays as it was).
   */
  Refusal add_span(Txn& txn, Span&& span, bool is_end, Clock::time_point now) {
    const TraceId id = span.trace_id;
    auto it = open.find(id);
    OpenTrace* o = nullptr;
    if (it != open.end()) {
      o = &it->second;
    } else if (txn.contains(id)) {
      return add_late(txn, std::move(span), is_end);
    } else if (would_exceed(store::trace_overhead_bytes, span, options.max_trace_bytes)) {
      return protocol::RejectReason::trace_too_large;  // before start_trace: no empty trace left behind
    } else {
      o = &start_trace(txn, id);
    }
    Trace& trace = *txn.find_open(id);
    Refusal refusal;
    if (would_exceed(txn.bytes_of(id), span, options.max_trace_bytes)) {
      refusal = protocol::RejectReason::trace_too_large;
    } else if (Span* known = find_span(trace, span.span_id, o->index.get())) {
      const std::size_t before = known->footprint();
      o->account(*known, -1);
      const protocol::SpanId span_id = span.span_id;
      const Merge merge = merge_span(*known, std::move(span), is_end);
      const bool merged = merge != Merge::refused;
      if (merge == Merge::unchanged) note_unchanged(span_id);
      o->account(*known, +1);
      if (merged) {
        txn.add_bytes(id, static_cast<std::ptrdiff_t>(known->footprint()) - static_cast<std::ptrdiff_t>(before), 0);
        bump(counters.spans_merged);
      } else {
        refusal = protocol::RejectReason::bad_time;
      }
    } else if (trace.spans.size() >= options.max_spans_per_trace) {
      refusal = protocol::RejectReason::too_many_spans;
    } else {
      if (is_end && !span.has(protocol::field_started_at)) span.started_at_ns = span.ended_at_ns;  // placeholder
      if (trace.run_id.empty() && !span.run_id.empty()) {
        txn.set_run_id(id, span.run_id);
        // Spans that came before the one naming the run belong to it too: an OTLP SDK
        // sends children first, and often only the root carries session.id.
        for (Span& earlier : trace.spans) {
          if (!earlier.run_id.empty()) continue;
          const std::size_t before = earlier.footprint();
          earlier.run_id = span.run_id;
          txn.add_bytes(id, static_cast<std::ptrdiff_t>(earlier.footprint()) - static_cast<std::ptrdiff_t>(before), 0);
        }
      }
      if (span.run_id.empty()) span.run_id = trace.run_id;  // a span belongs to its trace's run
      if (o->follow_up) {
        span.late = true;
        bump(counters.spans_late);
      }
      o->account(span, +1);
      txn.add_bytes(id, static_cast<std::ptrdiff_t>(span.footprint()), 1);
      trace.spans.push_back(std::move(span));
      index_appended(trace, o->index);
      bump(counters.spans_accepted);
      bump(counters.spans_open);
    }
    touch(*o, now);
    return refusal;
  }

  /** The whole event is refused for its first refused span; the other spans stay applied. */
  Refusal apply_trace(Txn& txn, Event& e, Clock::time_point now) {
    Refusal first;
    for (Span& s : e.spans) {
      const Refusal r = add_span(txn, std::move(s), false, now);
      if (!first) first = r;
    }
    if (!txn.contains(e.trace_id)) start_trace(txn, e.trace_id);  // a spanless trace is still a trace
    if (!e.run_id.empty()) txn.set_run_id(e.trace_id, e.run_id);
    if (open.contains(e.trace_id)) {
      bump(counters.traces_completed);
      complete(txn, e.trace_id, true);
    }
    return first;
  }

  void apply_trace_end(Txn& txn, const Event& e) {
    if (open.contains(e.trace_id)) {
      if (!e.run_id.empty()) txn.set_run_id(e.trace_id, e.run_id);
      bump(counters.traces_completed);
      complete(txn, e.trace_id, true);
    } else if (!txn.contains(e.trace_id)) {
      bump(counters.trace_ends_ignored);
    }  // else: already exported (linger or timeout came first); nothing to do
  }

  void apply(std::span<Event> events, Clock::time_point now, std::vector<Rejection>* rejected,
             std::vector<Unchanged>* unchanged) {
    unchanged_out = unchanged;
    {
      auto txn = store.begin();
      for (std::size_t i = 0; i < events.size(); ++i) {
        event_index = i;
        Event& e = events[i];
        Refusal refusal;
        switch (e.type) {
          case EventType::span:
          case EventType::span_start:
          case EventType::span_end:
            refusal = add_span(txn, std::move(e.span), e.type == EventType::span_end, now);
            break;
          case EventType::trace:
            refusal = apply_trace(txn, e, now);
            break;
          case EventType::trace_end:
            apply_trace_end(txn, e);
            break;
          case EventType::flush:
          case EventType::hello:
            break;
        }
        if (refusal) {
          bump(counters.spans_rejected);
          if (rejected != nullptr) rejected->push_back({i, *refusal});
        }
      }
      late.settle(txn);
    }  // the transaction ends here: byte-bound evictions run and may add to `finished`
    unchanged_out = nullptr;
    flush_published();
  }

  void tick(Clock::time_point now) {
    if (next_deadline() > now) return;
    {
      auto txn = store.begin();
      // The lists are ordered by last event, so each loop stops at the first trace not due.
      for (auto [list, linger] :
           {std::pair{&ready, options.trace_linger}, std::pair{&rootless, options.trace_rootless_linger}}) {
        while (!list->empty()) {
          const TraceId id = list->front();
          if (now - open.at(id).last_event < linger) break;
          bump(counters.traces_completed);
          complete(txn, id, true);
        }
      }
      while (!lru.empty()) {
        const TraceId id = lru.front();
        if (now - open.at(id).last_event < options.trace_idle_timeout) break;
        bump(counters.traces_timed_out);
        complete(txn, id, false);
      }
    }
    flush_published();
  }

  Clock::time_point next_deadline() const {
    auto due = Clock::time_point::max();
    if (!ready.empty()) due = std::min(due, open.at(ready.front()).last_event + options.trace_linger);
    if (!rootless.empty()) due = std::min(due, open.at(rootless.front()).last_event + options.trace_rootless_linger);
    if (!lru.empty()) due = std::min(due, open.at(lru.front()).last_event + options.trace_idle_timeout);
    return due;
  }

  void finish_all() {
    {
      auto txn = store.begin();
      while (!lru.empty()) {
        bump(counters.traces_flushed_open);
        const TraceId id = lru.front();
        // Shutdown does not make a finished trace incomplete: ready ones say complete.
        complete(txn, id, open.at(id).ready());
      }
    }
    flush_published();
  }
};

Assembler::Assembler(AssemblerOptions options, store::TraceStore& store, Publish publish)
    : impl_(std::make_unique<Impl>(options, store, std::move(publish))) {}
Assembler::~Assembler() { impl_->store.set_evict_callback(nullptr); }

void Assembler::apply(std::span<Event> events, Clock::time_point now, std::vector<Rejection>* rejected,
                      std::vector<Unchanged>* unchanged) {
  impl_->apply(events, now, rejected, unchanged);
}
void Assembler::tick(Clock::time_point now) { impl_->tick(now); }
Clock::time_point Assembler::next_deadline() const { return impl_->next_deadline(); }
void Assembler::finish_all() { impl_->finish_all(); }
std::size_t Assembler::open_traces() const { return impl_->open.size(); }

AssemblerCounters Assembler::counters() const {
  const Counters& c = impl_->counters;
  auto v = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  AssemblerCounters out;
  out.spans_accepted = v(c.spans_accepted);
  out.spans_merged = v(c.spans_merged);
  out.spans_late = v(c.spans_late);
  out.spans_rejected = v(c.spans_rejected);
  out.traces_started = v(c.traces_started);
  out.traces_completed = v(c.traces_completed);
  out.traces_timed_out = v(c.traces_timed_out);
  out.traces_flushed_open = v(c.traces_flushed_open);
  out.traces_published = v(c.traces_published);
  out.follow_ups_published = v(c.follow_ups_published);
  out.traces_sampled_out = v(c.traces_sampled_out);
  out.spans_published = v(c.spans_published);
  out.spans_sampled_out = v(c.spans_sampled_out);
  out.span_updates_published = v(c.span_updates_published);
  out.span_updates_sampled_out = v(c.span_updates_sampled_out);
  out.trace_ends_ignored = v(c.trace_ends_ignored);
  out.spans_open = v(c.spans_open);
  return out;
}

}  // namespace tracecol::assembly
