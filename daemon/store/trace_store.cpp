#include "daemon/store/trace_store.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <list>
#include <string_view>
#include <unordered_map>

#include "protocol/encoder.hpp"

namespace tracecol::store {

using protocol::Trace;
using protocol::TraceId;

struct TraceStore::Impl {
  struct Entry {
    std::shared_ptr<Trace> trace;
    bool exported = false;
    std::size_t bytes = 0;
    std::size_t spans = 0;
    std::uint64_t seq = 0;                 // insertion number: orders a run's traces
    std::string indexed_run;               // the run_id this entry is listed under
    std::list<TraceId>::iterator position; // in `order`
    // get_json's record of this frozen trace is in json_cache. Set by a reader holding the
    // shared lock and json_mu; read and cleared by the writer (exclusive lock).
    bool json_cached = false;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  /** A run's traces by insertion number: oldest first even when the run_id came late. */
  using RunTraces = std::map<std::uint64_t, TraceId>;

  std::unordered_map<TraceId, Entry, protocol::TraceIdHash> entries;
  std::list<TraceId> order;  // oldest first: eviction pops the front in O(1)
  std::unordered_map<std::string, RunTraces, StringHash, std::equal_to<>> by_run;
  std::uint64_t next_seq = 0;
  Evicted evict;
  StoreCounters counters;
  // Rendered records of frozen traces, by id. Its own lock, not the store's: a cached
  // GET never waits for the writer's batch (which holds the store lock throughout).
  std::size_t max_json_bytes = 0;
  /** Under json_mu: whether a record of `bytes` more fits in the cache's bound. */
  bool json_room(std::size_t bytes) const { return counters.json_cache_bytes + bytes <= max_json_bytes; }
  std::mutex json_mu;  // json_cache and the json_cache_* counters
  std::unordered_map<TraceId, std::shared_ptr<const TraceRecord>, protocol::TraceIdHash> json_cache;

  /** Writer only (exclusive lock): forgets the entry's cached record. */
  void drop_json(Entry& e) {
    if (!e.json_cached) return;
    e.json_cached = false;
    std::lock_guard cache(json_mu);
    auto it = json_cache.find(*e.position);
    if (it == json_cache.end()) return;
    counters.json_cache_bytes -= it->second->footprint();
    --counters.json_cache_traces;
    json_cache.erase(it);
  }

  void unindex_run(const Entry& e) {
    if (e.indexed_run.empty()) return;
    auto it = by_run.find(std::string_view(e.indexed_run));
    if (it == by_run.end()) return;
    it->second.erase(e.seq);
    if (it->second.empty()) by_run.erase(it);
  }

  void evict_oldest(std::uint64_t& reason_counter, std::uint64_t& reason_spans) {
    const TraceId id = order.front();
    auto it = entries.find(id);
    Entry& e = it->second;
    ++reason_counter;
    reason_spans += e.spans;
    counters.bytes -= e.bytes;
    counters.spans -= e.spans;
    drop_json(e);
    unindex_run(e);
    order.pop_front();
    std::shared_ptr<Trace> trace = std::move(e.trace);
    const bool exported = e.exported;
    entries.erase(it);
    --counters.traces;
    if (!exported) ++counters.evicted_open;
    if (evict) evict(std::move(trace), exported);
  }

  /** The writable trace of an entry: exported and shared snapshots are copied first. */
  Trace* writable(Entry& e) {
    drop_json(e);  // whatever the caller changes, the cached record no longer says it
    // Someone (an exporter, a reader) holds the frozen snapshot: mutate a private copy.
    // Under the write lock nobody can take a new reference; one being dropped concurrently
    // only makes the count high, which costs a needless copy, never a shared mutation.
    if (e.exported && e.trace.use_count() > 1) e.trace = std::make_shared<Trace>(*e.trace);
    return e.trace.get();
  }

  TracePtr snapshot(const Entry& e) const {
    if (e.exported) return e.trace;  // frozen: share it
    return std::make_shared<const Trace>(*e.trace);
  }
};

TraceStore::TraceStore(StoreLimits limits) : limits_(limits), impl_(std::make_unique<Impl>()) {
  impl_->max_json_bytes = limits_.max_bytes / 2;
}

void TraceStore::set_max_json_bytes(std::size_t bytes) {
  std::unique_lock lock(mutex_);
  std::lock_guard cache(impl_->json_mu);
  impl_->max_json_bytes = bytes;
}
TraceStore::~TraceStore() = default;

void TraceStore::set_evict_callback(Evicted callback) {
  std::unique_lock lock(mutex_);
  impl_->evict = std::move(callback);
}

TraceStore::Transaction TraceStore::begin() { return Transaction(*this); }

TraceStore::Transaction::Transaction(TraceStore& store) : store_(&store), lock_(store.mutex_) {}
TraceStore::Transaction::Transaction(Transaction&&) noexcept = default;

TraceStore::Transaction::~Transaction() {
  if (store_ == nullptr || !lock_.owns_lock()) return;
  Impl& impl = *store_->impl_;
  // Over the byte bound: evict oldest first, but keep the newest trace whatever its size.
  while (impl.counters.bytes > store_->limits_.max_bytes && impl.entries.size() > 1) {
    impl.evict_oldest(impl.counters.evicted_max_bytes, impl.counters.spans_evicted_max_bytes);
  }
}

Trace* TraceStore::Transaction::find_open(const TraceId& id) {
  auto& entries = store_->impl_->entries;
  auto it = entries.find(id);
  return it == entries.end() || it->second.exported ? nullptr : it->second.trace.get();
}

const Trace* TraceStore::Transaction::peek(const TraceId& id) const {
  auto& entries = store_->impl_->entries;
  auto it = entries.find(id);
  return it == entries.end() ? nullptr : it->second.trace.get();
}

bool TraceStore::Transaction::contains(const TraceId& id) const { return store_->impl_->entries.contains(id); }

bool TraceStore::Transaction::is_exported(const TraceId& id) const {
  auto& entries = store_->impl_->entries;
  auto it = entries.find(id);
  return it != entries.end() && it->second.exported;
}

Trace& TraceStore::Transaction::insert(const TraceId& id) {
  Impl& impl = *store_->impl_;
  // Precondition !contains(id); if broken, hand back the held trace rather than corrupt the order.
  if (auto held = impl.entries.find(id); held != impl.entries.end()) return *store_->impl_->writable(held->second);
  // Count bound: evict only entries older than the one inserted, so it is never the victim.
  while (impl.entries.size() >= store_->limits_.max_traces && !impl.order.empty()) {
    impl.evict_oldest(impl.counters.evicted_max_traces, impl.counters.spans_evicted_max_traces);
  }
  impl.order.push_back(id);
  Impl::Entry& e = impl.entries[id];
  e.trace = std::make_shared<Trace>();
  e.trace->trace_id = id;
  e.position = std::prev(impl.order.end());
  e.seq = impl.next_seq++;
  e.bytes = trace_overhead_bytes;
  impl.counters.bytes += trace_overhead_bytes;
  ++impl.counters.traces;
  ++impl.counters.inserted;
  return *e.trace;
}

std::size_t TraceStore::Transaction::bytes_of(const TraceId& id) const {
  auto& entries = store_->impl_->entries;
  auto it = entries.find(id);
  return it == entries.end() ? 0 : it->second.bytes;
}

void TraceStore::Transaction::add_bytes(const TraceId& id, std::ptrdiff_t delta, std::ptrdiff_t spans_delta) {
  Impl& impl = *store_->impl_;
  auto it = impl.entries.find(id);
  if (it == impl.entries.end()) return;
  it->second.bytes = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(it->second.bytes) + delta);
  it->second.spans = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(it->second.spans) + spans_delta);
  impl.counters.bytes = static_cast<std::uint64_t>(static_cast<std::ptrdiff_t>(impl.counters.bytes) + delta);
  impl.counters.spans = static_cast<std::uint64_t>(static_cast<std::ptrdiff_t>(impl.counters.spans) + spans_delta);
  if (spans_delta > 0) impl.counters.spans_inserted += static_cast<std::uint64_t>(spans_delta);
}

TracePtr TraceStore::Transaction::mark_exported(const TraceId& id) {
  auto& entries = store_->impl_->entries;
  auto it = entries.find(id);
  if (it == entries.end()) return nullptr;
  it->second.exported = true;
  // Frozen from here on: give back the vector's growth slack.
  it->second.trace->spans.shrink_to_fit();
  return it->second.trace;
}

Trace* TraceStore::Transaction::thaw(const TraceId& id) {
  auto& entries = store_->impl_->entries;
  auto it = entries.find(id);
  if (it == entries.end()) return nullptr;
  return store_->impl_->writable(it->second);
}

void TraceStore::Transaction::refreeze(const TraceId& id) {
  auto& entries = store_->impl_->entries;
  if (auto it = entries.find(id); it != entries.end()) it->second.exported = true;
}

void TraceStore::Transaction::set_run_id(const TraceId& id, std::string_view run_id) {
  Impl& impl = *store_->impl_;
  auto it = impl.entries.find(id);
  if (it == impl.entries.end() || run_id.empty() || it->second.indexed_run == run_id) return;
  Impl::Entry& e = it->second;
  impl.unindex_run(e);
  e.indexed_run.assign(run_id);
  store_->impl_->writable(e)->run_id.assign(run_id);
  auto run = impl.by_run.find(run_id);
  if (run == impl.by_run.end()) run = impl.by_run.emplace(e.indexed_run, Impl::RunTraces{}).first;
  run->second.emplace(e.seq, id);
}

TracePtr TraceStore::get(const TraceId& id) const {
  std::shared_lock lock(mutex_);
  auto it = impl_->entries.find(id);
  return it == impl_->entries.end() ? nullptr : impl_->snapshot(it->second);
}

std::vector<TracePtr> TraceStore::list(std::string_view run_id) const {
  std::shared_lock lock(mutex_);
  std::vector<TracePtr> out;
  auto it = impl_->by_run.find(run_id);
  if (it == impl_->by_run.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [seq, id] : it->second) out.push_back(impl_->snapshot(impl_->entries.at(id)));
  return out;
}

std::vector<TracePtr> TraceStore::last(std::size_t n) const {
  std::shared_lock lock(mutex_);
  std::vector<TracePtr> out;
  for (auto it = impl_->order.rbegin(); it != impl_->order.rend() && out.size() < n; ++it)
    out.push_back(impl_->snapshot(impl_->entries.at(*it)));
  return out;
}

std::vector<TracePtr> TraceStore::find(const TraceFilter& filter) const {
  std::shared_lock lock(mutex_);
  std::vector<TracePtr> out;
  auto consider = [&](const TraceId& id) {
    const Impl::Entry& e = impl_->entries.at(id);
    if (trace_matches(*e.trace, filter)) out.push_back(impl_->snapshot(e));
    return out.size() < filter.limit;
  };
  if (filter.limit == 0) return out;
  if (!filter.run_id.empty()) {  // the run index holds exactly the candidates
    auto run = impl_->by_run.find(std::string_view(filter.run_id));
    if (run == impl_->by_run.end()) return out;
    for (auto it = run->second.rbegin(); it != run->second.rend(); ++it)
      if (!consider(it->second)) break;
    return out;
  }
  for (auto it = impl_->order.rbegin(); it != impl_->order.rend(); ++it)
    if (!consider(*it)) break;
  return out;
}

std::shared_ptr<const TraceRecord> TraceStore::get_json(const TraceId& id) const {
  {
    std::lock_guard cache(impl_->json_mu);
    if (auto hit = impl_->json_cache.find(id); hit != impl_->json_cache.end()) {
      ++impl_->counters.json_cache_hits;
      return hit->second;
    }
  }
  TracePtr trace;
  std::size_t estimate = 0;
  bool frozen = false;
  {
    std::shared_lock lock(mutex_);
    auto it = impl_->entries.find(id);
    if (it == impl_->entries.end()) return nullptr;
    const Impl::Entry& e = it->second;
    frozen = e.exported;
    trace = impl_->snapshot(e);
    estimate = e.bytes + 64 * e.spans + 512;  // the record is about the span footprints' size
  }
  // Rendered outside the lock: a 50-span record takes tens of microseconds, which the
  // writer (ingest) must not wait for. Into this thread's reused buffer, then copied into
  // a record of its own pages (trace_record.hpp): a GET grows no heap.
  thread_local std::string render;
  render.clear();
  render.reserve(estimate);
  protocol::append_trace_json(render, *trace);
  bool room = false;  // only a record the cache may keep gets pages of its own
  if (frozen) {
    std::lock_guard cache(impl_->json_mu);
    room = impl_->json_room(render.size());
  }
  auto json = TraceRecord::copy_of(render, room ? TraceRecord::Home::own_pages : TraceRecord::Home::heap);
  if (render.capacity() > (8u << 20)) std::string().swap(render);  // a giant trace's buffer is not kept
  if (!frozen) return json;  // an open trace may change any moment: never cached
  std::shared_lock lock(mutex_);
  auto it = impl_->entries.find(id);
  // Only onto the snapshot rendered: while we held it, any change made the writer copy
  // the trace (writable()), so an equal pointer means an unchanged trace.
  const bool unchanged = it != impl_->entries.end() && it->second.exported && it->second.trace == trace;
  std::lock_guard cache(impl_->json_mu);
  ++impl_->counters.json_cache_misses;
  if (!unchanged || it->second.json_cached ||
      !impl_->json_room(json->footprint()))
    return json;
  it->second.json_cached = true;
  impl_->json_cache.emplace(id, json);
  impl_->counters.json_cache_bytes += json->footprint();
  ++impl_->counters.json_cache_traces;
  return json;
}

StoreCounters TraceStore::counters() const {
  std::shared_lock lock(mutex_);
  std::lock_guard cache(impl_->json_mu);
  return impl_->counters;
}

}  // namespace tracecol::store
