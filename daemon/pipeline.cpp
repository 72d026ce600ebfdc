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
        fan_out_.publish(std::span<const assembly::TracePtr>(traces));
      }) {}

void Pipeline::start() {
  net::post(strand_, [this] { schedule_tick(); });
}

void Pipeline::submit(ingest::IngestBatch&& batch, Done done) {
  net::post(strand_, [this, batch = std::move(batch), done = std::move(done)]() mutable {
    std::vector<assembly::Rejection> rejected;
    assembler_.apply(batch.events, Clock::now(), &rejected);
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

void Pipeline::finish() {
  finished_ = true;
  tick_timer_.cancel();
  assembler_.finish_all();
}

}  // namespace tracecol::daemon
