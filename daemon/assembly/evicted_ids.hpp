#pragma once
// The ids of the traces the store evicted most recently, so that a span arriving for one
// of them is known to be late (its trace was exported) rather than the start of a trace.

#include <cstddef>
#include <unordered_set>
#include <vector>

#include "protocol/ids.hpp"

namespace tracecol::assembly {

/**
 * A bounded FIFO set: remembers the last `capacity` distinct ids, forgetting the oldest
 * first. Memory is fixed by the capacity (~50 bytes an id), whatever the traffic.
 */
class EvictedIds {
 public:
  explicit EvictedIds(std::size_t capacity) : capacity_(capacity) { ring_.reserve(capacity); }

  void remember(const protocol::TraceId& id) {
    if (capacity_ == 0 || !set_.insert(id).second) return;  // already remembered: keeps its place
    if (ring_.size() < capacity_) {
      ring_.push_back(id);
      return;
    }
    set_.erase(ring_[next_]);
    ring_[next_] = id;
    next_ = (next_ + 1) % capacity_;
  }

  bool contains(const protocol::TraceId& id) const { return set_.contains(id); }
  std::size_t size() const { return set_.size(); }

 private:
  std::size_t capacity_;
  std::vector<protocol::TraceId> ring_;  // oldest at next_ once full
  std::size_t next_ = 0;
  std::unordered_set<protocol::TraceId, protocol::TraceIdHash> set_;
};

}  // namespace tracecol::assembly
