#include "daemon/export/fan_out.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "daemon/thread_name.hpp"

namespace tracecol::exporters {

namespace {

using Clock = std::chrono::steady_clock;

/** A queued trace and when publish() took it, for the export latency histogram. */
struct Queued {
  TracePtr trace;
  Clock::time_point published;
};

}  // namespace

/**
 * One exporter, its queues and its thread. Everything below mu_ is guarded by it;
 * stopping_ and reopen_ are also read without it by the worker between items.
 */
struct FanOut::Worker {
  std::unique_ptr<Exporter> exporter;
  std::size_t capacity = 0;
  bool wants_spans = false;
  bool direct = false;  // exporter->hands_off_on_publish(): publish() calls it, no trace queue here
  std::string name;

  mutable std::mutex mu;
  std::condition_variable wake;  // the worker waits for work / requests
  std::condition_variable idle;  // drain() waits for empty queues and finished flushes
  std::vector<Queued> traces;    // queued, not yet taken by the worker
  std::vector<SpanPtr> spans;
  bool in_flight = false;
  bool stop_requested = false;
  std::uint64_t flush_requested = 0;  // generations, so repeated drains each get a flush
  std::uint64_t flush_done = 0;
  std::atomic<bool> stopping{false};
  std::atomic<bool> reopen{false};
  ExporterCounters c;
  // Mirrors of c.queue_depth / c.spans_pending for lock-free readers (metrics gauges).
  std::atomic<std::uint64_t> depth_gauge{0};
  std::atomic<std::uint64_t> spans_gauge{0};
  std::thread thread;

  bool quiet() const { return traces.empty() && spans.empty() && !in_flight; }
  /** Under mu, after every change to c.queue_depth or c.spans_pending. */
  void update_gauges() {
    depth_gauge.store(c.queue_depth, std::memory_order_relaxed);
    spans_gauge.store(c.spans_pending, std::memory_order_relaxed);
  }
  void run();
  void drop_queued();
  void hand_off(std::span<const TracePtr> published);
};

namespace {

// An exporter that throws (bad_alloc while formatting, a bug) must cost one record, not
// the worker thread and with it the daemon (std::terminate).
bool export_ok(Exporter& e, const TracePtr& t) noexcept {
  try {
    return e.export_shared(t) == ExportStatus::ok;
  } catch (...) {
    return false;
  }
}

bool export_ok(Exporter& e, const protocol::Span& s) noexcept {
  try {
    return e.export_span(s) == ExportStatus::ok;
  } catch (...) {
    return false;
  }
}

template <typename Call>
void call_quietly(Call&& call) noexcept {
  try {
    call();
  } catch (...) {  // nothing to count: flush and reopen have no result
  }
}

/**
 * For an exporter with a queue of its own, "sent" above means "handed to that queue":
 * split it into what the exporter delivered, failed, dropped and still holds.
 */
void apply_handoff(ExporterCounters& c, const Exporter::Handoff& h) {
  c.traces_sent = h.traces_delivered;
  c.spans_sent = h.spans_delivered;
  c.traces_failed += h.traces_failed;
  c.spans_failed += h.spans_failed;
  c.traces_dropped += h.traces_dropped;
  c.spans_dropped += h.spans_dropped;
  c.queue_depth += h.traces_pending;
  c.spans_pending += h.spans_pending;
  c.spans_rejected_by_receiver = h.spans_rejected_by_receiver;
  c.export_latency.merge(h.latency);  // the fan-out samples no hand-off (Worker::hand_off)
}

std::uint64_t spans_in(const std::vector<Queued>& traces) {
  std::uint64_t n = 0;
  for (const auto& q : traces) n += q.trace->spans.size();
  return n;
}

}  // namespace

void FanOut::Worker::drop_queued() {
  c.traces_dropped += traces.size();
  const std::uint64_t queued_spans = spans_in(traces) + spans.size();
  c.spans_dropped += queued_spans;
  c.spans_dropped_shutdown += queued_spans;
  c.queue_depth = 0;
  c.spans_pending = 0;
  update_gauges();
  traces.clear();
  spans.clear();
}

/**
 * publish() for a direct exporter: each trace straight into the exporter's own queue. Under
 * mu, so stop() (which sets stop_requested under it before the exporter's shutdown) sees
 * every hand-off finished: nothing reaches an exporter that has shut down. No latency
 * sample here: the exporter times delivery itself (Handoff::latency).
 */
void FanOut::Worker::hand_off(std::span<const TracePtr> published) {
  std::lock_guard lock(mu);
  for (const auto& t : published) {
    const std::uint64_t n = t->spans.size();
    ++c.traces_published;
    c.spans_published += n;
    if (stop_requested) {
      ++c.traces_dropped;
      c.spans_dropped += n;
      c.spans_dropped_shutdown += n;
    } else if (export_ok(*exporter, t)) {
      ++c.traces_sent;
      c.spans_sent += n;
    } else {
      ++c.traces_failed;
      c.spans_failed += n;
    }
  }
}

void FanOut::Worker::run() {
  // "tc-x-" + the exporter's kind: "tc-x-console", "tc-x-ndjson", "tc-x-http".
  name_this_thread("tc-x-" + name.substr(0, name.find(':')));
  std::vector<Queued> trace_batch;
  std::vector<SpanPtr> span_batch;
  std::unique_lock lock(mu);
  for (;;) {
    wake.wait(lock, [&] {
      return stop_requested || reopen.load() || flush_requested != flush_done || !traces.empty() ||
             !spans.empty();
    });
    if (stop_requested) break;

    // Swap the whole queue out: publishers only ever contend for this short section.
    trace_batch.swap(traces);
    span_batch.swap(spans);
    in_flight = true;
    lock.unlock();

    // What this batch settled since the counters last heard of it. They hear every 200 ms
    // even mid-batch: a batch of thousands failing slowly (a full disk: retries with
    // backoff per record) must show in /metrics as it happens, not when the batch ends.
    ExporterCounters done;
    std::uint64_t settled_traces = 0, settled_spans = 0;
    auto last_commit = Clock::now();
    const auto commit = [&] {  // with the lock held
      c.traces_sent += done.traces_sent;
      c.traces_failed += done.traces_failed;
      c.traces_dropped += done.traces_dropped;
      c.spans_sent += done.spans_sent;
      c.spans_failed += done.spans_failed;
      c.spans_dropped += done.spans_dropped;
      c.spans_dropped_shutdown += done.spans_dropped_shutdown;
      c.export_latency.merge(done.export_latency);
      c.queue_depth -= settled_traces;
      c.spans_pending -= settled_spans;
      update_gauges();
      done = ExporterCounters{};
      settled_traces = settled_spans = 0;
    };
    const auto commit_now_and_then = [&] {
      const auto now = Clock::now();
      if (now - last_commit < std::chrono::milliseconds(200)) return;
      last_commit = now;
      lock.lock();
      commit();
      lock.unlock();
    };
    std::size_t handled_spans = 0;
    std::size_t handled_traces = 0;
    if (reopen.exchange(false)) call_quietly([&] { exporter->reopen(); });
    for (; handled_spans < span_batch.size() && !stopping.load(); ++handled_spans) {
      if (reopen.exchange(false)) call_quietly([&] { exporter->reopen(); });
      const bool ok = export_ok(*exporter, *span_batch[handled_spans]);
      ++(ok ? done.spans_sent : done.spans_failed);
      ++settled_spans;
      commit_now_and_then();
    }
    for (; handled_traces < trace_batch.size() && !stopping.load(); ++handled_traces) {
      if (reopen.exchange(false)) call_quietly([&] { exporter->reopen(); });
      const Queued& q = trace_batch[handled_traces];
      const auto& t = *q.trace;
      const bool ok = export_ok(*exporter, q.trace);
      done.export_latency.record(std::chrono::duration<double>(Clock::now() - q.published).count());
      if (ok) {
        ++done.traces_sent;
        done.spans_sent += t.spans.size();
      } else {
        ++done.traces_failed;
        done.spans_failed += t.spans.size();
      }
      ++settled_traces;
      settled_spans += t.spans.size();
      commit_now_and_then();
    }
    // Whatever stop() interrupted counts as dropped, like the rest of the queue.
    for (std::size_t i = handled_traces; i < trace_batch.size(); ++i) {
      ++done.traces_dropped;
      done.spans_dropped += trace_batch[i].trace->spans.size();
      ++settled_traces;
      settled_spans += trace_batch[i].trace->spans.size();
    }
    done.spans_dropped += span_batch.size() - handled_spans;
    settled_spans += span_batch.size() - handled_spans;
    done.spans_dropped_shutdown = done.spans_dropped;  // only stop() interrupts a batch
    trace_batch.clear();  // release the traces outside the lock
    span_batch.clear();

    lock.lock();
    commit();
    in_flight = false;

    // drain() asks only once the queue was quiet, so everything it waited for is exported
    // by now; flush even if new work arrived since, or steady publishing would starve it.
    bool flushed = false;
    if (flush_requested != flush_done) {
      const std::uint64_t generation = flush_requested;
      flushed = true;
      in_flight = true;
      lock.unlock();
      call_quietly([&] { exporter->flush(); });
      lock.lock();
      in_flight = false;
      flush_done = generation;
    }
    if (quiet() || flushed) idle.notify_all();
  }
  drop_queued();
  idle.notify_all();
}

FanOut::FanOut() = default;

FanOut::~FanOut() { stop(); }

void FanOut::add(std::unique_ptr<Exporter> exporter, std::size_t queue_capacity) {
  auto w = std::make_unique<Worker>();
  w->capacity = queue_capacity;
  w->wants_spans = exporter->wants_spans();
  w->direct = exporter->hands_off_on_publish();
  w->name = std::string(exporter->name());
  const auto taken = [this](const std::string& n) {
    return std::any_of(workers_.begin(), workers_.end(), [&](const auto& other) { return other->name == n; });
  };
  if (taken(w->name)) {
    std::string unique;
    for (int n = 2; unique.empty() || taken(unique); ++n) {
      unique = w->name;
      unique.append(1, '#').append(std::to_string(n));
    }
    w->name = std::move(unique);
    exporter->rename(w->name);
  }
  w->c.name = w->name;
  w->exporter = std::move(exporter);
  workers_.push_back(std::move(w));
}

void FanOut::start() {
  for (auto& w : workers_) {
    if (!w->thread.joinable()) w->thread = std::thread([p = w.get()] { p->run(); });
  }
}

void FanOut::publish(std::span<const TracePtr> traces) {
  if (traces.empty()) return;
  const Clock::time_point now = Clock::now();  // one clock read per call, outside every lock
  for (auto& w : workers_) {
    if (w->direct) {
      w->hand_off(traces);
      continue;
    }
    std::size_t taken = 0;
    std::uint64_t spans_taken = 0;
    std::uint64_t spans_total = 0;
    {
      std::lock_guard lock(w->mu);
      const std::size_t room =
          w->stop_requested || w->traces.size() >= w->capacity ? 0 : w->capacity - w->traces.size();
      for (const auto& t : traces) {
        const std::uint64_t n = t->spans.size();
        spans_total += n;
        if (taken < room) {
          w->traces.push_back({t, now});
          ++taken;
          spans_taken += n;
        }
      }
      w->c.traces_published += traces.size();
      w->c.spans_published += spans_total;
      w->c.traces_dropped += traces.size() - taken;
      w->c.spans_dropped += spans_total - spans_taken;
      (w->stop_requested ? w->c.spans_dropped_shutdown : w->c.spans_dropped_queue_full) += spans_total - spans_taken;
      w->c.queue_depth += taken;
      w->c.spans_pending += spans_taken;
      w->update_gauges();
    }
    if (taken > 0) w->wake.notify_one();
  }
}

void FanOut::publish_spans(std::span<const SpanPtr> spans) {
  if (spans.empty()) return;
  for (auto& w : workers_) {
    if (!w->wants_spans) continue;
    std::size_t taken = 0;
    {
      std::lock_guard lock(w->mu);
      const std::size_t room =
          w->stop_requested || w->spans.size() >= w->capacity ? 0 : w->capacity - w->spans.size();
      for (; taken < spans.size() && taken < room; ++taken) w->spans.push_back(spans[taken]);
      w->c.spans_published += spans.size();
      w->c.lone_spans_published += spans.size();
      w->c.spans_dropped += spans.size() - taken;
      (w->stop_requested ? w->c.spans_dropped_shutdown : w->c.spans_dropped_queue_full) += spans.size() - taken;
      w->c.spans_pending += taken;
      w->update_gauges();
    }
    if (taken > 0) w->wake.notify_one();
  }
}

void FanOut::reopen_all() {
  for (auto& w : workers_) {
    {
      // Set under the lock so a worker about to wait cannot miss the wake-up.
      std::lock_guard lock(w->mu);
      w->reopen.store(true);
    }
    w->wake.notify_one();
  }
}

bool FanOut::drain(std::chrono::steady_clock::time_point deadline) {
  bool all = true;
  std::vector<std::pair<Worker*, std::uint64_t>> flushing;
  for (auto& w : workers_) {
    std::unique_lock lock(w->mu);
    if (!w->thread.joinable() || w->stop_requested) {
      // No worker to hand the queue to: nothing queued can drain.
      if (!w->quiet()) all = false;
      continue;
    }
    if (!w->idle.wait_until(lock, deadline, [&] { return w->quiet(); })) {
      all = false;
      continue;
    }
    const std::uint64_t generation = ++w->flush_requested;
    flushing.emplace_back(w.get(), generation);
    lock.unlock();
    w->wake.notify_one();
  }
  // Flushes run concurrently on the workers; wait for each, bounded by the same deadline.
  for (auto [w, generation] : flushing) {
    std::unique_lock lock(w->mu);
    // Named captures: clang 14 (the fuzz build) cannot capture structured bindings.
    const bool flushed = w->idle.wait_until(lock, deadline, [worker = w, g = generation] {
      return worker->flush_done >= g || worker->stop_requested;
    });
    if (!flushed || w->flush_done < generation) all = false;
  }
  return all;
}

void FanOut::stop() {
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->mu);
      w->stop_requested = true;
      w->stopping.store(true);
    }
    w->wake.notify_one();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
    // The exporter's own queue (HTTP) is cut now, so counters() read next are final.
    call_quietly([&] { w->exporter->shutdown(); });
    std::lock_guard lock(w->mu);
    w->drop_queued();  // never started: the queue is still there
  }
}

std::vector<ExporterCounters> FanOut::counters() const {
  std::vector<ExporterCounters> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) {
    {
      std::lock_guard lock(w->mu);
      out.push_back(w->c);
    }
    // Outside the lock: retried() is the exporter's own any-thread counter.
    out.back().traces_retried = w->exporter->retried();
    if (auto h = w->exporter->handoff()) apply_handoff(out.back(), *h);
  }
  return out;
}

std::size_t FanOut::size() const { return workers_.size(); }

std::uint64_t FanOut::queue_depth(std::size_t i) const {
  return workers_.at(i)->depth_gauge.load(std::memory_order_relaxed);
}

std::uint64_t FanOut::spans_pending(std::size_t i) const {
  return workers_.at(i)->spans_gauge.load(std::memory_order_relaxed);
}

}  // namespace tracecol::exporters
