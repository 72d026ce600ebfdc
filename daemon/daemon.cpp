#include "daemon/daemon.hpp"

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/export/console_exporter.hpp"
#include "daemon/export/fan_out.hpp"
#include "daemon/export/http/http_exporter.hpp"
#include "daemon/export/ndjson_file_exporter.hpp"
#include "daemon/hugepage_malloc.hpp"
#include "daemon/http/server.hpp"
#include "daemon/http/stream_hub.hpp"
#include "daemon/ingest/uds_listener.hpp"
#include "daemon/log.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/summary.hpp"
#include "daemon/thread_name.hpp"

namespace tracecol::daemon {
namespace {

using namespace std::chrono_literals;

constexpr auto read_grace = 2s;     // connections finish reading what agents already sent
constexpr auto drain_budget = 15s;  // exporters drain inside Kubernetes' 30 s grace
constexpr auto reply_grace = 1s;    // last replies written before the loop is stopped anyway

/**
 * At shutdown the io loop should end by running out of work (so every posted close, file
 * removal and reply runs); if a stuck peer keeps it busy, this stops it after a grace.
 */
class LoopBackstop {
 public:
  explicit LoopBackstop(net::io_context& io) : io_(io) {}
  ~LoopBackstop() { loop_ended(); }

  /** Once, from the shutdown coroutine. */
  void arm(std::chrono::steady_clock::duration grace) {
    thread_ = std::thread([this, grace] {
      name_this_thread("tc-backstop");
      std::unique_lock lock(mu_);
      if (!ended_cv_.wait_for(lock, grace, [this] { return ended_; })) io_.stop();
    });
  }
  /** After the io threads are joined. */
  void loop_ended() {
    {
      std::lock_guard lock(mu_);
      ended_ = true;
    }
    ended_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  net::io_context& io_;
  std::mutex mu_;
  std::condition_variable ended_cv_;
  bool ended_ = false;
  std::thread thread_;
};

/** Polls cond every 5 ms on the calling strand until it holds or the deadline passes. */
net::awaitable<void> wait_until(std::function<bool()> cond, std::chrono::steady_clock::time_point deadline) {
  net::steady_timer timer(co_await net::this_coro::executor);
  while (!cond() && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(5ms);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
}

protocol::DecodeOptions decode_options(const Config& c) {
  protocol::DecodeOptions o;
  o.max_depth = c.max_depth;
  o.include_inputs = !c.no_inputs;
  o.include_outputs = !c.no_outputs;
  if (!c.no_default_redact) o.redact_keys = protocol::default_redact_keys();
  o.redact_keys.insert(o.redact_keys.end(), c.redact_keys.begin(), c.redact_keys.end());
  o.monotonic_offset_ns = protocol::current_monotonic_offset_ns();
  return o;
}

/** Creates the configured exporters; an error message (bad URL, TLS setup) or nullopt. */
std::optional<std::string> add_exporters(const Config& c, exporters::FanOut& fan_out) {
  if (c.export_console) {
    fan_out.add(std::make_unique<exporters::ConsoleExporter>(exporters::ConsoleExporterOptions{}), c.export_queue);
  }
  if (!c.export_file.empty()) {
    exporters::NdjsonFileOptions file;
    file.path = c.export_file;
    file.mode = c.file_mode == "spans" ? exporters::FileMode::spans : exporters::FileMode::traces;
    file.max_bytes = c.file_max_bytes;
    file.max_backups = c.file_max_backups;
    auto exporter = std::make_unique<exporters::NdjsonFileExporter>(std::move(file));
    // A path that cannot be opened now (no such directory, a directory, no permission) is
    // an operator's mistake: say so at startup, not as failed traces later.
    if (auto why = exporter->open_error()) return "--export-file " + *why;
    fan_out.add(std::move(exporter), c.export_queue);
  }
  for (const auto& url : c.export_http) {
    namespace eh = exporters::http;
    auto ms = [](std::chrono::nanoseconds d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
    eh::HttpExporterOptions o;
    o.url = url;
    o.format = c.export_http_format == "json"         ? eh::Format::json
               : c.export_http_format == "otlp-proto" ? eh::Format::otlp_proto
                                                      : eh::Format::otlp;
    o.headers = c.export_http_headers;
    o.timeout = ms(c.export_http_timeout);
    o.max_batch_traces = c.export_http_max_batch_traces;
    o.max_batch_bytes = c.export_http_max_batch_bytes;
    o.max_delay = ms(c.export_http_max_delay);
    o.max_elapsed = ms(c.export_http_max_elapsed);
    o.queue = {c.export_http_queue_traces, c.export_http_queue_bytes};
    o.insecure = c.export_http_insecure;
    o.ca_file = c.export_http_ca_file;
    o.service_name = c.export_http_service_name;
    std::string error;
    auto exporter = eh::HttpExporter::create(std::move(o), &error);
    if (!exporter) return error;
    log(LogLevel::info, "export-http: %s to %s", c.export_http_format.c_str(), url.c_str());
    fan_out.add(std::move(exporter), c.export_queue);
  }
  return std::nullopt;
}

/** Stops accepting, lets connections read what was sent, exports open traces, drains. */
net::awaitable<void> shut_down(net::io_context& io, ingest::UdsListener& listener,
                               ingest::ConnectionContext& ctx, Pipeline& pipeline,
                               exporters::FanOut& fan_out, http::HttpServer* http_server, bool& drained,
                               std::function<void()> release_loop, LoopBackstop& backstop) {
  log(LogLevel::info, "stopping: no new connections; reading what agents already sent");
  // HTTP keeps answering through the drain: /healthz 200, /readyz and the rest 503.
  if (http_server) http_server->begin_stop();
  const auto read_deadline = std::chrono::steady_clock::now() + read_grace;
  listener.stop(read_deadline);
  // Connections stop by read_deadline on their own; the margin covers their last batch.
  co_await wait_until([&ctx] { return ctx.readers_active.load() == 0; }, read_deadline + 500ms);
  // This coroutine runs on the assembler strand: re-queue once so the batches the
  // connections posted before they stopped are applied first (the strand is FIFO).
  co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
  pipeline.finish();
  log(LogLevel::info, "open traces exported; draining exporters");
  drained = fan_out.drain(std::chrono::steady_clock::now() + drain_budget);
  if (http_server) http_server->stop();
  // Let the loop end by itself once the last replies are written and posted closes ran.
  net::post(io, std::move(release_loop));
  backstop.arm(reply_grace);
}

}  // namespace

int run(const Config& config) {
  LogLevel level = LogLevel::info;
  parse_log_level(config.log_level, level);
  set_log_level(level);
  // A file exporter hitting RLIMIT_FSIZE must get EFBIG, not die.
  ::signal(SIGXFSZ, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);

  net::io_context io(config.threads);
  // Before the socket exists: a SIGTERM the moment agents can connect must drain, not kill.
  // signal_set takes the signals now and queues them until the handlers below wait.
  net::signal_set stop_signals(io, SIGTERM, SIGINT);
  net::signal_set hup(io, SIGHUP);
  exporters::FanOut fan_out;
  if (auto error = add_exporters(config, fan_out)) {
    log(LogLevel::error, "%s", error->c_str());
    return 1;
  }

  assembly::AssemblerOptions assembler_options;
  assembler_options.trace_linger = std::chrono::duration_cast<assembly::Clock::duration>(config.trace_linger);
  assembler_options.trace_rootless_linger =
      std::chrono::duration_cast<assembly::Clock::duration>(config.trace_rootless_linger);
  assembler_options.trace_idle_timeout = std::chrono::duration_cast<assembly::Clock::duration>(config.trace_idle_timeout);
  assembler_options.max_spans_per_trace = config.max_spans_per_trace;
  assembler_options.max_trace_bytes = config.max_trace_bytes;
  assembler_options.sample_rate = config.sample_rate;
  assembler_options.sample_keep_errors = config.sample_keep_errors;
  Pipeline pipeline(io, assembler_options, {config.max_traces, config.max_store_bytes}, fan_out);

  std::atomic<std::int64_t> monotonic_offset{protocol::current_monotonic_offset_ns()};
  ingest::IngestCounters counters;
  ingest::LineBudget line_budget(config.max_line_buffer_bytes);  // outlives every connection
  ingest::ConnectionContext ctx{pipeline, counters, decode_options(config), config.max_line_bytes, 8,
                                monotonic_offset};
  ctx.line_budget = &line_budget;
  ingest::UdsListener listener(
      io, {config.socket, config.socket_mode, config.max_connections, config.allow_uids, config.allow_gids}, ctx);
  if (auto error = listener.open()) {
    log(LogLevel::error, "%s", error->c_str());
    return 1;
  }
  std::optional<http::HttpServer> http_server;
  std::string http_unauthenticated_warning;  // repeated in the startup banner
  if (config.http_listen != "off") {
    http::ServerOptions http_options;
    http_options.listen = config.http_listen;
    http_options.max_body = config.http_max_body;
    http_options.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.http_timeout);
    http_options.max_connections = config.http_max_connections;
    http_options.decode = ctx.decode;
    http_options.max_line_bytes = config.max_line_bytes;
    if (!config.http_token_file.empty()) {
      http::TokenFile token = http::read_token_file(config.http_token_file);
      for (const auto& w : token.warnings) log(LogLevel::warn, "%s", w.c_str());
      if (!token.error.empty()) {
        log(LogLevel::error, "%s", token.error.c_str());
        return 1;
      }
      http_options.access.token = std::move(token.token);
    }
    http_options.access.allowed_hosts = config.http_allowed_hosts;
    http_options.access.cors_origins = config.http_cors_origins;
    const bool http_token = !http_options.access.token.empty();
    http::MetricsSources sources{&counters, [&pipeline] { return pipeline.assembler().counters(); },
                                 [&pipeline] { return pipeline.store().counters(); },
                                 [&fan_out] { return fan_out.counters(); }, {}, {}};
    // GET /api/stream: the hub is one more exporter (own worker and queue, never slows
    // ingest); the pipeline publishes finished spans only while a subscriber wants them.
    auto stream_hub = std::make_shared<http::StreamHub>();
    fan_out.add(http::make_stream_exporter(stream_hub), config.export_queue);
    pipeline.set_span_gate([stream_hub] { return stream_hub->wants_spans(); });
    sources.stream = [stream_hub] { return stream_hub->counters(); };
    sources.line_buffer_bytes = [&line_budget] { return static_cast<std::uint64_t>(line_budget.held()); };
    http::ServerContext http_context{pipeline.store(), pipeline, &counters, &monotonic_offset, std::move(sources),
                                     stream_hub};
    http_server.emplace(io, std::move(http_options), std::move(http_context));
    if (auto error = http_server->open()) {
      log(LogLevel::error, "%s", error->c_str());
      return 1;
    }
    log(LogLevel::info, "http listening on %s (%s)", http_server->local_address().c_str(),
        http_token ? "bearer token required" : "no authentication");
    if (http_server->exposed() && !http_token) {
      http_unauthenticated_warning = "WARNING: the HTTP API on " + http_server->local_address() +
                                     " is reachable beyond loopback WITHOUT authentication: anyone who can "
                                     "connect reads every trace and can post spans; set --http-token-file";
      log(LogLevel::warn, "%s", http_unauthenticated_warning.c_str());
    }
  }
  log(LogLevel::info, "malloc: %s", malloc_pages_description());
  for (const auto& warning : config.warnings) log(LogLevel::warn, "%s", warning.c_str());
  std::string exporter_list;
  if (config.export_console) exporter_list += " console";
  if (!config.export_file.empty()) exporter_list += " ndjson:" + config.export_file;
  for (const auto& url : config.export_http) exporter_list += " http(" + config.export_http_format + "):" + url;
  log(http_unauthenticated_warning.empty() ? LogLevel::info : LogLevel::warn,
      "tracecol %s listening on unix:%s (mode %04o); exporters:%s%s%s", TRACECOL_VERSION, config.socket.c_str(),
      config.socket_mode, exporter_list.c_str(), http_unauthenticated_warning.empty() ? "" : "; ",
      http_unauthenticated_warning.c_str());

  fan_out.start();
  pipeline.start();
  listener.start();
  if (http_server) http_server->start();

  // The agents' clocks are read as CLOCK_MONOTONIC; refresh the offset if the wall clock is set.
  net::steady_timer offset_timer(io);
  std::function<void()> refresh = [&] {
    offset_timer.expires_after(5s);
    offset_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      monotonic_offset.store(protocol::current_monotonic_offset_ns());
      refresh();
    });
  };
  refresh();

  bool drained = false;
  LoopBackstop backstop(io);
  // A second SIGTERM/SIGINT while draining: said, not silent (the drain has its own budget).
  std::function<void()> wait_again = [&] {
    stop_signals.async_wait([&](boost::system::error_code ec, int signo) {
      if (ec) return;
      log(LogLevel::warn, "received %s again: already stopping; the drain ends within %llds of the first",
          signo == SIGTERM ? "SIGTERM" : "SIGINT", static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(read_grace + drain_budget).count()));
      wait_again();
    });
  };
  stop_signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    log(LogLevel::info, "received %s", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    wait_again();
    offset_timer.cancel();
    auto release_loop = [&] {
      boost::system::error_code ignored;
      stop_signals.cancel(ignored);
      hup.cancel(ignored);
      offset_timer.cancel();
    };
    net::co_spawn(pipeline.executor(),
                  shut_down(io, listener, ctx, pipeline, fan_out, http_server ? &*http_server : nullptr, drained,
                            release_loop, backstop),
                  net::detached);
  });
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      log(LogLevel::info, "SIGHUP: reopening output files");
      fan_out.reopen_all();
      wait_hup();
    });
  };
  wait_hup();

  std::vector<std::thread> threads;
  for (int i = 1; i < config.threads; ++i) threads.emplace_back([&io] {
    name_this_thread("tc-io");
    io.run();
  });
  io.run();
  for (auto& t : threads) t.join();
  backstop.loop_ended();

  fan_out.stop();
  // The summary is printed whatever --log-level says: it is the proof nothing was lost.
  if (!log_enabled(LogLevel::info)) set_log_level(LogLevel::info);
  log(LogLevel::info, "%s", exit_summary(counters, pipeline, fan_out).c_str());
  if (!drained) log(LogLevel::warn, "exporters did not drain within %llds; see dropped counts above",
                    static_cast<long long>(drain_budget.count()));
  // Losses were counted all along; at exit they get a warning of their own, exporter by exporter.
  for (const auto& e : fan_out.counters()) {
    if (e.traces_dropped + e.traces_failed == 0) continue;
    log(LogLevel::warn, "%s: %llu trace(s) (%llu span(s)) never delivered: %llu dropped, %llu failed",
        e.name.c_str(), static_cast<unsigned long long>(e.traces_dropped + e.traces_failed),
        static_cast<unsigned long long>(e.spans_dropped + e.spans_failed),
        static_cast<unsigned long long>(e.traces_dropped), static_cast<unsigned long long>(e.traces_failed));
  }
  return 0;
}

}  // namespace tracecol::daemon
