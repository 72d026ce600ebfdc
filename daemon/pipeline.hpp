#pragma once
// The stages after ingest, wired: the assembler on its own strand (it owns its state; no
// locks), the TraceStore it writes, and the fan-out to the exporters.

#include <atomic>
#include <chrono>
#include <memory>

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
  /** Shutdown, on the assembler strand, after ingest stopped: exports every open trace as it stands. */
  void finish();

  /** The assembler strand: everything that touches the assembler runs here. */
  net::strand<net::io_context::executor_type> executor() const { return strand_; }

  store::TraceStore& store() { return store_; }
  assembly::Assembler& assembler() { return assembler_; }

 private:
  void schedule_tick();

  net::strand<net::io_context::executor_type> strand_;
  net::steady_timer tick_timer_;
  exporters::FanOut& fan_out_;
  store::TraceStore store_;
  assembly::Assembler assembler_;
  bool finished_ = false;
};

}  // namespace tracecol::daemon
