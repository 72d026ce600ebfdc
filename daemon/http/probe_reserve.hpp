#pragma once
// The probe reserve (ServerOptions::probe_reserve): connections the HTTP server accepts past
// --http-max-connections, to answer a liveness or readiness probe. A local process holding
// the whole cap with slow requests would otherwise fail /healthz, and the kubelet would
// restart the pod. Bookkeeping only: the server owns the connections.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace tracecol::http {

/**
 * At most `size` live members, oldest first. When full, a newcomer makes room by evicting
 * the oldest: to keep a probe out, an attacker must open `size` connections in the instant
 * between the probe's accept and its head being read. An evicted member still counts until
 * it leaves, up to 2 * size members in all: the hard bound on what the reserve holds.
 * Not thread-safe: the server calls it under its registry's mutex.
 */
class ProbeReserve {
 public:
  explicit ProbeReserve(std::size_t size) : size_(size) {}

  struct Admission {
    bool admitted = false;
    std::optional<std::uint64_t> evict;  // the member to close now to make room
  };
  /** A connection past the cap, by the server's id for it. */
  Admission admit(std::uint64_t id);
  /** Member id is gone (it was served, refused, timed out or evicted). */
  void leave(std::uint64_t id);

  std::size_t live() const { return members_.size() - evicted_; }
  std::size_t held() const { return members_.size(); }

 private:
  struct Member {
    std::uint64_t id;
    bool evicted;
  };
  std::size_t size_;
  std::deque<Member> members_;  // in admission order
  std::size_t evicted_ = 0;
};

}  // namespace tracecol::http
