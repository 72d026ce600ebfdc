#pragma once
// The HTTP API server (Boost.Beast): a TCP or Unix-socket listener, one coroutine per
// connection on its own strand, keep-alive, a per-request timeout, body and header
// limits, a connection cap, and the routes of api.hpp.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "daemon/http/access_policy.hpp"
#include "daemon/http/metrics.hpp"
#include "daemon/http/stream_hub.hpp"
#include "daemon/ingest/batch_sink.hpp"
#include "daemon/ingest/ingest_counters.hpp"
#include "daemon/net.hpp"
#include "daemon/store/trace_store.hpp"
#include "protocol/decoder.hpp"

namespace tracecol::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:4318";  // "host:port" (port 0: any free port) or "unix:/path"
  std::uint64_t max_body = 20u << 20;     // larger requests get 413
  std::uint32_t max_header = 16u << 10;   // larger headers get 431
  std::chrono::milliseconds request_timeout{10000};  // to read one request (or idle between) and write its answer
  std::size_t max_connections = 256;      // more get 503 and are closed, but for probes (below)
  /**
   * Connections past max_connections still accepted, to serve a liveness or readiness probe
   * (GET or HEAD of /healthz or /readyz) and nothing else, then closed. When all are taken,
   * the oldest is closed to make room: a full cap (a slowloris) cannot fail the probes.
   */
  std::size_t probe_reserve = 16;
  std::chrono::milliseconds probe_head_timeout{1000};  // a reserve connection's head must arrive in this
  protocol::DecodeOptions decode;         // POST /api/spans lines, like the socket's
  std::size_t max_line_bytes = 1u << 20;
  AccessOptions access;                   // token, Host allowlist, CORS (access_policy.hpp)
};

/**
 * What the server reads and writes; everything must outlive the io_context's run.
 * The store is read only through its reader methods; batches go to sink like a socket
 * connection's; ingest (optional) gets the POSTed lines counted in it.
 */
struct ServerContext {
  const store::TraceStore& store;
  ingest::BatchSink& sink;
  ingest::IngestCounters* ingest = nullptr;
  const std::atomic<std::int64_t>* monotonic_offset_ns = nullptr;
  MetricsSources metrics;
  std::shared_ptr<StreamHub> stream;  // GET /api/stream's subscribers; null: the route answers 503
};

class HttpServer {
 public:
  HttpServer(net::io_context& io, ServerOptions options, ServerContext context);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /** Binds and listens; an error message, or nullopt. Not thread-safe; call once. */
  std::optional<std::string> open();
  /** After open(): "127.0.0.1:43187" (the bound port) or "unix:/path". */
  std::string local_address() const;
  /** After open(): true when bound to TCP on an address other than loopback (reachable by others). */
  bool exposed() const;
  /** Starts accepting on the io_context. */
  void start();
  /**
   * Any thread, when the drain begins: still accepting, but every route except /healthz
   * answers 503 (/readyz says not ready), each connection closes after one answer, idle
   * ones and live streams close now. Idempotent.
   */
  void begin_stop();
  /**
   * Any thread, once drained: begin_stop() if it was not, then stops accepting, removes a
   * Unix socket file, closes idle connections. Idempotent.
   */
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tracecol::http
