#pragma once
// The handoff from ingest to the next stage: one batch per socket read.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "protocol/event.hpp"
#include "protocol/reject_reason.hpp"

namespace tracecol::ingest {

/**
 * Where a line sits in a connection's stream, ordered: the batch (one per read), then
 * 2*i + 1 for the batch's data event i, or 2*j for a line refused before event j.
 */
struct LinePosition {
  std::uint64_t batch = 0;
  std::uint64_t slot = 0;
  auto operator<=>(const LinePosition&) const = default;
};

/** The most recent rejection on a connection, with its place for ordering. */
struct LastError {
  protocol::RejectReason reason;
  LinePosition at;
};

/** A flush line's place in its batch and the connection's decode counts at that line. */
struct FlushRequest {
  std::size_t index;     // number of batch events before the flush line
  std::uint64_t id;
  std::uint64_t accepted;  // data lines decoded so far on the connection
  std::uint64_t rejected;  // lines rejected by the framer or decoder so far
  std::optional<LastError> last_error;  // the framer's or decoder's latest, if any
};

struct IngestBatch {
  std::vector<protocol::Event> events;  // data events only, in line order
  std::vector<FlushRequest> flushes;
};

/** An event the next stage refused, by its index in the batch. */
struct AppliedRejection {
  std::size_t index;
  protocol::RejectReason reason;
};

/** Where batches go. Implemented by the daemon's pipeline (the assembler's strand). */
class BatchSink {
 public:
  using Done = std::function<void(std::vector<AppliedRejection>&& rejected)>;
  virtual ~BatchSink() = default;
  /**
   * Takes the batch; batches of one connection are applied in submission order. done
   * runs (on the sink's thread) once the batch is applied.
   */
  virtual void submit(IngestBatch&& batch, Done done) = 0;
};

}  // namespace tracecol::ingest
