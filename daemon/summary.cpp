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
  // Spans, for the accounting identities of docs/metrics.md.
  field(out, "spans_sampled_out", a.spans_sampled_out);
  field(out, "spans_published", a.spans_published);
  field(out, "span_updates_published", a.span_updates_published);
  field(out, "span_updates_sampled_out", a.span_updates_sampled_out);
  field(out, "spans_open", a.spans_open);
  const auto s = pipeline.store().counters();
  field(out, "stored", s.traces);
  field(out, "evicted", s.evicted_max_traces + s.evicted_max_bytes);
  field(out, "evicted.max_traces", s.evicted_max_traces);
  field(out, "evicted.max_bytes", s.evicted_max_bytes);
  field(out, "spans_stored", s.spans_inserted);
  field(out, "spans_held", s.spans);
  field(out, "spans_evicted.max_traces", s.spans_evicted_max_traces);
  field(out, "spans_evicted.max_bytes", s.spans_evicted_max_bytes);
  for (const auto& e : fan_out.counters()) {
    out += " | " + e.name + ":";
    field(out, "sent", e.traces_sent);
    field(out, "spans_sent", e.spans_sent);
    field(out, "failed", e.traces_failed);
    field(out, "retried", e.traces_retried);
    if (e.spans_rejected_by_receiver > 0) field(out, "spans_rejected_by_receiver", e.spans_rejected_by_receiver);
    field(out, "dropped", e.traces_dropped);
    field(out, "spans_dropped", e.spans_dropped);
    field(out, "pending", e.queue_depth);
    field(out, "spans_published", e.spans_published);
    field(out, "live_spans", e.lone_spans_published);
    field(out, "spans_failed", e.spans_failed);
    field(out, "spans_dropped.queue_full", e.spans_dropped_queue_full);
    field(out, "spans_dropped.shutdown", e.spans_dropped_shutdown);
    const std::uint64_t fan_out_dropped = e.spans_dropped_queue_full + e.spans_dropped_shutdown;
    field(out, "spans_dropped.in_exporter", e.spans_dropped > fan_out_dropped ? e.spans_dropped - fan_out_dropped : 0);
    field(out, "spans_pending", e.spans_pending);
  }
  return out;
}

}  // namespace tracecol::daemon
