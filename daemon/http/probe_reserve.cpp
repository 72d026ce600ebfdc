#include "daemon/http/probe_reserve.hpp"

#include <algorithm>

namespace tracecol::http {

ProbeReserve::Admission ProbeReserve::admit(std::uint64_t id) {
  Admission a;
  // Evicted members still hold a socket until they are gone (they write a 503 first).
  if (size_ == 0 || members_.size() >= 2 * size_) return a;
  if (live() >= size_) {
    // The oldest has had the longest to send its head: a probe sends it at once.
    auto oldest = std::find_if(members_.begin(), members_.end(), [](const Member& m) { return !m.evicted; });
    oldest->evicted = true;
    ++evicted_;
    a.evict = oldest->id;
  }
  members_.push_back({id, false});
  a.admitted = true;
  return a;
}

void ProbeReserve::leave(std::uint64_t id) {
  auto it = std::find_if(members_.begin(), members_.end(), [id](const Member& m) { return m.id == id; });
  if (it == members_.end()) return;
  if (it->evicted) --evicted_;
  members_.erase(it);
}

}  // namespace tracecol::http
