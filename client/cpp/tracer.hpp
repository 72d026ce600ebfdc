#pragma once
// Tracer, Trace and Span: the agent-facing API (the seed's tracing layer, in C++).
//
//   tracecol::client::Tracer tracer({.enabled = true});   // sends to $TRACECOL_SOCKET
//   auto span = tracer.start_span("agent.run", SpanKind::AGENT);  // finishes at scope exit
//   auto fetch = tracer.traced("fetch_document", SpanKind::TOOL, [](std::string url) { ... });

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "client/cpp/config.hpp"
#include "client/cpp/exporter.hpp"
#include "client/cpp/ids.hpp"
#include "client/cpp/json.hpp"
#include "client/cpp/span_record.hpp"

namespace tracecol::client {

class Span;
namespace detail {
struct TracerCore;
struct TraceState;
/** A span of `core` under the thread's current span (traced() uses it). */
Span start_span(const std::shared_ptr<TracerCore>& core, std::string_view name, SpanKind kind);
/** The span a thread is inside: new spans without an explicit parent become its children. */
struct Context {
  std::shared_ptr<TraceState> trace;
  SpanId span_id = 0;
};
}  // namespace detail

/**
 * One span, as an RAII guard: started by Tracer/Trace/Span, finished by finish() or at
 * scope exit. A span from Tracer/Trace::start_span or traced() is the starting thread's
 * current span until it finishes; finish it on that thread (finished on another one, it
 * stays the parent of the starting thread's next spans). If an exception escapes its
 * scope it is finished with an error (the message when recorded by traced() or
 * record_exception(), else "exception") and the exception propagates unchanged. A
 * default-constructed or disabled span records nothing. Movable; not thread-safe itself
 * (one guard, one owner), though guards of one trace may live on many threads. It keeps
 * its trace and the exporter alive.
 */
class Span {
 public:
  Span() = default;
  ~Span();
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  /** False for a disabled tracer's or an already-finished span. */
  bool recording() const { return trace_ != nullptr && !finished_; }
  SpanId span_id() const { return record_.span_id; }
  TraceId trace_id() const { return record_.trace_id; }

  /** Ends the span (the seed's span.finish(outputs=...)); later calls do nothing. */
  void finish();
  void finish(const JsonObject& outputs);
  /** Marks the span failed with `message` (kept when it finishes). */
  void set_error(std::string message);
  void record_exception(const std::exception& e) { set_error(e.what()); }
  void set_inputs(const JsonObject& inputs);
  void set_metadata(const JsonObject& metadata);

  /** A child span of this one, for any thread; explicit parenting, so it does not become the current span. */
  Span child(std::string_view name, SpanKind kind = SpanKind::CUSTOM, const JsonObject& inputs = {},
             const JsonObject& metadata = {}) const;

 private:
  friend class Tracer;
  friend class Trace;
  Span(std::shared_ptr<detail::TraceState> trace, SpanId parent, std::string_view name, SpanKind kind,
       const JsonObject& inputs, const JsonObject& metadata, bool make_current);
  void end() noexcept;

  std::shared_ptr<detail::TraceState> trace_;
  SpanRecord record_;
  detail::Context previous_;
  int uncaught_ = 0;
  bool finished_ = true;
};

/**
 * A handle on one trace (one agent run). Its spans' `trace_end` goes out when the handle
 * is ended or destroyed and every span of the trace has finished. Movable.
 */
class Trace {
 public:
  Trace() = default;
  ~Trace() { end(); }
  Trace(Trace&&) noexcept = default;
  Trace& operator=(Trace&& other) noexcept;

  /** A child of the thread's current span when that span is in this trace, else a root of this trace. */
  Span start_span(std::string_view name, SpanKind kind = SpanKind::CUSTOM, const JsonObject& inputs = {},
                  const JsonObject& metadata = {}) const;
  void end() noexcept;

  bool recording() const { return state_ != nullptr; }
  TraceId trace_id() const;
  /** Whether sample_rate kept this trace (a failed span exports an unsampled trace anyway). */
  bool sampled() const;

 private:
  friend class Tracer;
  explicit Trace(std::shared_ptr<detail::TraceState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::TraceState> state_;
};

/**
 * Starts traces and spans and hands finished spans to one exporter. Thread-safe. The
 * exporter lives as long as the Tracer or any of its open traces; the default
 * SocketExporter flushes (bounded by config.shutdown_timeout) when the last of those goes.
 */
class Tracer {
 public:
  /** config.enabled: a SocketExporter on config.socket_path; otherwise records nothing. */
  explicit Tracer(TracingConfig config = {});
  Tracer(TracingConfig config, std::shared_ptr<SpanExporter> exporter);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  /** A new trace (the seed's Trace(run_id=...)). */
  Trace start_trace(std::string run_id = {}) const;
  /** A child of this thread's current span (of this tracer); else the root of a new trace. */
  Span start_span(std::string_view name, SpanKind kind = SpanKind::CUSTOM, const JsonObject& inputs = {},
                  const JsonObject& metadata = {}) const;

  /**
   * Wraps `fn` like the seed's @traced: each call runs in a span (a child of the current
   * one), records string/number/bool arguments as inputs `arg0`, `arg1`, ... and a
   * string/number/bool/JsonObject result as outputs (`{"result": ...}`, a JsonObject as is),
   * records an exception's message as the error and rethrows it unchanged.
   */
  template <class F>
  auto traced(std::string name, SpanKind kind, F fn) const;

  /** Waits up to `timeout` for the exporter to deliver what finished so far; true when confirmed. */
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(2)) const;

  const TracingConfig& config() const;
  /** Null when disabled. */
  SpanExporter* exporter() const;

 private:
  friend Span detail::start_span(const std::shared_ptr<detail::TracerCore>&, std::string_view, SpanKind);
  static Span span_in_context(const std::shared_ptr<detail::TracerCore>& core, std::string_view name, SpanKind kind,
                              const JsonObject& inputs, const JsonObject& metadata);
  std::shared_ptr<detail::TracerCore> core_;
};

}  // namespace tracecol::client

#include "client/cpp/traced.hpp"
