#include "client/cpp/tracer.hpp"

#include <time.h>

#include <mutex>
#include <vector>

#include "client/cpp/socket_exporter.hpp"

namespace tracecol::client {

namespace detail {

struct TracerCore {
  TracingConfig config;
  std::shared_ptr<SpanExporter> exporter;  // null when disabled
};

/** Shared by a Trace handle and its spans; its destruction is the trace's end. */
struct TraceState {
  TraceState(std::shared_ptr<TracerCore> c, std::string run) : core(std::move(c)), run_id(std::move(run)) {
    id = new_trace_id();
    sampled = sampled_in(id, core->config.sample_rate);
  }
  ~TraceState() {
    if (sampled || promoted) core->exporter->end_trace(id, run_id);
  }
  TraceState(const TraceState&) = delete;
  TraceState& operator=(const TraceState&) = delete;

  /** Hands a finished span on; an unsampled trace holds its spans back until one fails. */
  void deliver(const SpanRecord& span) noexcept {
    if (sampled) {
      core->exporter->export_span(span);
      return;
    }
    std::lock_guard lk(mu);
    if (!promoted && !span.error) {
      try {
        if (held.size() < core->config.max_held_spans_per_trace) held.push_back(span);
      } catch (...) {
      }
      return;
    }
    // Traces with an error are exported whatever the sample rate, as the daemon does.
    if (!promoted) {
      promoted = true;
      for (const SpanRecord& s : held) core->exporter->export_span(s);
      held.clear();
      held.shrink_to_fit();
    }
    core->exporter->export_span(span);
  }

  std::shared_ptr<TracerCore> core;
  TraceId id;
  std::string run_id;
  bool sampled = true;
  std::mutex mu;
  std::vector<SpanRecord> held;  // guarded by mu
  bool promoted = false;         // guarded by mu (read unguarded only in the destructor)
};

thread_local Context current;

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool include_inputs(const TracerCore& core) { return core.config.include_inputs; }
bool include_outputs(const TracerCore& core) { return core.config.include_outputs; }

Span start_span(const std::shared_ptr<TracerCore>& core, std::string_view name, SpanKind kind) {
  if (!core->exporter) return Span();
  return Tracer::span_in_context(core, name, kind, JsonObject(), JsonObject());
}

}  // namespace detail

// ---- Span

Span::Span(std::shared_ptr<detail::TraceState> trace, SpanId parent, std::string_view name, SpanKind kind,
           const JsonObject& inputs, const JsonObject& metadata, bool make_current)
    : trace_(std::move(trace)), uncaught_(std::uncaught_exceptions()), finished_(false) {
  record_.trace_id = trace_->id;
  record_.span_id = new_span_id();
  record_.parent_id = parent;
  record_.run_id = trace_->run_id;
  record_.name.assign(name);
  record_.kind = kind;
  if (trace_->core->config.include_inputs && !inputs.empty()) {
    record_.inputs.clear();
    inputs.append_to(record_.inputs);
  }
  if (!metadata.empty()) {
    record_.metadata.clear();
    metadata.append_to(record_.metadata);
  }
  record_.started_at_ns = detail::now_ns();
  if (make_current) {
    previous_ = std::move(detail::current);
    detail::current.trace = trace_;
    detail::current.span_id = record_.span_id;
  }
}

Span::~Span() {
  if (trace_ != nullptr && !finished_) {
    // The exception's message is out of reach during unwinding; traced() and
    // record_exception() record it before this runs.
    if (std::uncaught_exceptions() > uncaught_ && !record_.error) record_.error = "exception";
    end();
  }
}

Span::Span(Span&& other) noexcept
    : trace_(std::move(other.trace_)),
      record_(std::move(other.record_)),
      previous_(std::move(other.previous_)),
      uncaught_(other.uncaught_),
      finished_(other.finished_) {
  other.finished_ = true;
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    if (trace_ != nullptr && !finished_) end();
    trace_ = std::move(other.trace_);
    record_ = std::move(other.record_);
    previous_ = std::move(other.previous_);
    uncaught_ = other.uncaught_;
    finished_ = other.finished_;
    other.finished_ = true;
  }
  return *this;
}

void Span::end() noexcept {
  finished_ = true;
  record_.ended_at_ns = detail::now_ns();
  if (detail::current.span_id == record_.span_id && detail::current.trace == trace_) {
    detail::current = std::move(previous_);
  }
  previous_ = {};
  trace_->deliver(record_);
}

void Span::finish() {
  if (trace_ != nullptr && !finished_) end();
}

void Span::finish(const JsonObject& outputs) {
  if (trace_ == nullptr || finished_) return;
  if (trace_->core->config.include_outputs) {
    record_.outputs.clear();
    outputs.append_to(record_.outputs);
  }
  end();
}

void Span::set_error(std::string message) {
  if (trace_ != nullptr && !finished_) record_.error = std::move(message);
}

void Span::set_inputs(const JsonObject& inputs) {
  if (trace_ == nullptr || finished_ || !trace_->core->config.include_inputs) return;
  record_.inputs.clear();
  inputs.append_to(record_.inputs);
}

void Span::set_metadata(const JsonObject& metadata) {
  if (trace_ == nullptr || finished_) return;
  record_.metadata.clear();
  metadata.append_to(record_.metadata);
}

Span Span::child(std::string_view name, SpanKind kind, const JsonObject& inputs, const JsonObject& metadata) const {
  if (trace_ == nullptr) return Span();
  return Span(trace_, record_.span_id, name, kind, inputs, metadata, false);
}

// ---- Trace

Trace& Trace::operator=(Trace&& other) noexcept {
  if (this != &other) state_ = std::move(other.state_);
  return *this;
}

void Trace::end() noexcept { state_.reset(); }

TraceId Trace::trace_id() const { return state_ ? state_->id : TraceId{}; }

bool Trace::sampled() const { return state_ ? state_->sampled : false; }

Span Trace::start_span(std::string_view name, SpanKind kind, const JsonObject& inputs,
                       const JsonObject& metadata) const {
  if (!state_) return Span();
  const SpanId parent = detail::current.trace == state_ ? detail::current.span_id : 0;
  return Span(state_, parent, name, kind, inputs, metadata, true);
}

// ---- Tracer

Tracer::Tracer(TracingConfig config) : core_(std::make_shared<detail::TracerCore>()) {
  core_->config = std::move(config);
  if (core_->config.enabled) core_->exporter = std::make_shared<SocketExporter>(core_->config);
}

Tracer::Tracer(TracingConfig config, std::shared_ptr<SpanExporter> exporter)
    : core_(std::make_shared<detail::TracerCore>()) {
  core_->config = std::move(config);
  if (core_->config.enabled) core_->exporter = std::move(exporter);
}

Tracer::~Tracer() = default;

Trace Tracer::start_trace(std::string run_id) const {
  if (!core_->exporter) return Trace();
  return Trace(std::make_shared<detail::TraceState>(core_, std::move(run_id)));
}

Span Tracer::span_in_context(const std::shared_ptr<detail::TracerCore>& core, std::string_view name, SpanKind kind,
                             const JsonObject& inputs, const JsonObject& metadata) {
  if (detail::current.trace != nullptr && detail::current.trace->core == core)
    return Span(detail::current.trace, detail::current.span_id, name, kind, inputs, metadata, true);
  return Span(std::make_shared<detail::TraceState>(core, std::string()), 0, name, kind, inputs, metadata, true);
}

Span Tracer::start_span(std::string_view name, SpanKind kind, const JsonObject& inputs,
                        const JsonObject& metadata) const {
  if (!core_->exporter) return Span();
  return span_in_context(core_, name, kind, inputs, metadata);
}

bool Tracer::flush(std::chrono::milliseconds timeout) const {
  return core_->exporter ? core_->exporter->flush(timeout) : true;
}

const TracingConfig& Tracer::config() const { return core_->config; }

SpanExporter* Tracer::exporter() const { return core_->exporter.get(); }

}  // namespace tracecol::client
