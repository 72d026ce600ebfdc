#pragma once
// The stages after ingest, wired: the assembler on its own strand (it owns its state; no
// locks), the TraceStore it writes, and the fan-out to the exporters.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "daemon/assembly/assembler.hpp"
#include "daemon/export/fan_out.hpp"
#include "daemon/ingest/batch_sink.hpp"
#include "daemon/net.hpp"
#include "daemon/store/trace_store.hpp"

namespace tracecol::daemon {

class Pipeline final : public ingest::BatchSink {
 public:
  Pipeline(net::io_context& io, assembly::AssemblerOptions assembler_options, store::StoreLimits limits,
           exporters::FanOut& fan_out);

  /** From any connection strand: posts the batch to the assembler strand (one post per read). */
  void submit(ingest::IngestBatch&& batch, Done done) override;

  void start();

  /**
   * Before start(): finished spans go to fan_out.publish_spans() (ahead of the traces the
   * same batch finished) for every batch applied while wanted() holds. Called once per
   * batch on the assembler strand, so it must be cheap (an atomic load); without a gate no
   * span is published and ingest pays nothing per span.
   */
  void set_span_gate(std::function<bool()> wanted) { spans_wanted_ = std::move(wanted); }
  /** Shutdown, on the assembler strand, after ingest stopped: exports every open trace as it stands. */
  void finish();

  /** The assembler strand: everything that touches the assembler runs here. */
  net::strand<net::io_context::executor_type> executor() const { return strand_; }

  store::TraceStore& store() { return store_; }
  assembly::Assembler& assembler() { return assembler_; }

 private:
  void schedule_tick();
  /** A span event that may have finished a span: (trace, span) to look up after apply. */
  struct SpanKey {
    protocol::TraceId trace_id;
    protocol::SpanId span_id;
    std::size_t event = 0;    // its index in the batch
    bool whole_event = true;  // the event is this one span (not one span of a trace event)
  };
  /** Publishes the spans keys name, but none the assembler refused or that a copy left unchanged (both sorted by index). */
  void publish_finished_spans(const std::vector<SpanKey>& keys, const std::vector<assembly::Rejection>& rejected,
                              const std::vector<assembly::Unchanged>& unchanged);

  net::strand<net::io_context::executor_type> strand_;
  net::steady_timer tick_timer_;
  exporters::FanOut& fan_out_;
  store::TraceStore store_;
  assembly::Assembler assembler_;
  bool finished_ = false;
  std::function<bool()> spans_wanted_;
  bool deferring_ = false;                        // inside a tapped apply: traces wait for their spans
  std::vector<assembly::TracePtr> deferred_;
};

}  // namespace tracecol::daemon
