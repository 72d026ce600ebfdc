#pragma once
// Ingest counters: relaxed atomics, added to once per read (not per line) where possible.
// At every quiet moment: lines_received = events_accepted + rejected_total() + control_lines.

#include <array>
#include <atomic>
#include <cstdint>

#include "protocol/reject_reason.hpp"

namespace tracecol::ingest {

struct IngestCounters {
  using Counter = std::atomic<std::uint64_t>;
  Counter connections_accepted{0};
  Counter connections_active{0};
  Counter connections_refused{0};   // over --max-connections
  Counter connections_denied{0};    // peer uid/gid not in --allow-uid / --allow-gid
  Counter accept_errors{0};         // EMFILE, ENFILE, ...
  Counter bytes_received{0};
  Counter lines_received{0};        // non-blank lines, including over-long ones
  Counter lines_blank{0};
  Counter control_lines{0};         // flush and hello: not events
  Counter events_accepted{0};       // applied by the assembler
  Counter partial_lines_dropped{0}; // unterminated line at EOF
  Counter flushes_answered{0};
  std::array<Counter, static_cast<std::size_t>(protocol::RejectReason::count_)> rejected{};

  void reject(protocol::RejectReason reason, std::uint64_t n = 1) {
    rejected[static_cast<std::size_t>(reason)].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t rejected_total() const {
    std::uint64_t sum = 0;
    for (const auto& r : rejected) sum += r.load(std::memory_order_relaxed);
    return sum;
  }
};

}  // namespace tracecol::ingest
