#include "daemon/summary.hpp"

#include "protocol/reject_reason.hpp"

namespace tracecol::daemon {
namespace {

void field(std::string& out, const char* name, std::uint64_t value) {
  out += ' ';
  out += name;
  out += '=';
  out += std::to_string(value);
}

}  // namespace

std::string exit_summary(const ingest::IngestCounters& in, Pipeline& pipeline, const exporters::FanOut& fan_out) {
  auto load = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  std::string out = "tracecol: exit summary:";
  field(out, "connections", load(in.connections_accepted));
  field(out, "refused", load(in.connections_refused));
  field(out, "denied", load(in.connections_denied));
  field(out, "lines", load(in.lines_received));
  field(out, "accepted", load(in.events_accepted));
  field(out, "rejected", in.rejected_total());
  for (std::size_t i = 0; i < in.rejected.size(); ++i) {
    if (std::uint64_t n = load(in.rejected[i]); n > 0) {
      out += " rejected." + std::string(protocol::to_string(static_cast<protocol::RejectReason>(i))) + "=" +
             std::to_string(n);
    }
  }
  field(out, "control", load(in.control_lines));
  field(out, "blank", load(in.lines_blank));
  field(out, "partial_dropped", load(in.partial_lines_dropped));
  const auto a = pipeline.assembler().counters();
  field(out, "spans", a.spans_accepted);
  field(out, "merged", a.spans_merged);
  field(out, "late", a.spans_late);
  field(out, "traces", a.traces_started);
  field(out, "completed", a.traces_completed);
  field(out, "timed_out", a.traces_timed_out);
  field(out, "flushed_open", a.traces_flushed_open);
  field(out, "sampled_out", a.traces_sampled_out);
  const auto s = pipeline.store().counters();
  field(out, "stored", s.traces);
  field(out, "evicted", s.evicted_max_traces + s.evicted_max_bytes);
  for (const auto& e : fan_out.counters()) {
    out += " | " + e.name + ":";
    field(out, "sent", e.traces_sent);
    field(out, "spans_sent", e.spans_sent);
    field(out, "failed", e.traces_failed);
    field(out, "retried", e.traces_retried);
    field(out, "dropped", e.traces_dropped);
    field(out, "spans_dropped", e.spans_dropped);
    field(out, "pending", e.queue_depth);
  }
  return out;
}

}  // namespace tracecol::daemon
