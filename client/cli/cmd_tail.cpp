// tracectl tail: GET /api/stream, each trace event rendered as the console exporter
// renders it; reconnects when the stream drops; SIGINT/SIGTERM end it with exit 0.

#include <boost/asio.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/http_client.hpp"
#include "client/cli/sse_parser.hpp"
#include "client/cli/trace_record.hpp"

namespace tracecol::cli {
namespace {

namespace net = boost::asio;

void emit(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void handle(const SseEvent& event, bool spans) {
  std::string error;
  if (event.type == "trace") {
    if (auto trace = decode_trace_record(event.data, error)) emit(render_console(*trace));
    else complain("skipped a trace event: " + error);
  } else if (event.type == "span" && spans) {
    if (auto span = decode_span_record(event.data, error)) emit(render_span_line(*span));
    else complain("skipped a span event: " + error);
  }
}

net::awaitable<void> tail_loop(HttpEndpoint ep, std::string target, StreamOptions stream_options, bool spans,
                               int& result) {
  auto executor = co_await net::this_coro::executor;
  net::steady_timer timer(executor);
  const auto first_backoff = std::chrono::milliseconds(100);
  auto backoff = first_backoff;
  bool ever_connected = false;
  for (;;) {
    SseParser parser;
    std::vector<SseEvent> events;
    bool announced = false;
    auto on_data = [&](std::string_view bytes) {
      if (!announced) {
        announced = true;
        complain("following " + ep.text + target);
      }
      const bool ok = parser.feed(bytes, events);
      for (const SseEvent& e : events) handle(e, spans);
      events.clear();
      return ok;
    };
    StreamEnd end = co_await http_stream(ep, target, stream_options, on_data);
    if (end.connected) {
      ever_connected = true;
      backoff = first_backoff;
    } else if (end.status != 0 || !ever_connected) {
      if (end.status != 0) {
        complain("GET " + target + ": HTTP " + std::to_string(end.status) + ": " + api_error_message(end.body));
      } else {
        complain(end.reason);
      }
      result = exit_failure;
      co_return;
    }
    if (parser.failed()) end.reason = "an event larger than the parser's limit";
    complain("stream ended (" + end.reason + "); reconnecting in " + std::to_string(backoff.count()) + " ms");
    timer.expires_after(backoff);
    boost::system::error_code ec;
    auto token = net::redirect_error(net::use_awaitable, ec);
    co_await timer.async_wait(token);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace

int run_tail(const CliOptions& options) {
  std::string error;
  const auto ep = http_endpoint_with_token(options.global.http, options.global.token_file, error);
  if (!ep) {
    complain(error);
    return exit_usage;
  }
  std::string query = filter_query(options.tail.filter, error);
  if (!error.empty()) {
    complain(error);
    return exit_usage;
  }
  query += query.empty() ? '?' : '&';
  query += options.tail.spans ? "events=span,trace" : "events=trace";
  StreamOptions stream_options;
  stream_options.connect_timeout = timeout_of(options.global);
  stream_options.idle_timeout = std::chrono::milliseconds(static_cast<long long>(options.tail.idle_timeout_s * 1000));

  net::io_context ioc;
  int result = exit_ok;
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](const boost::system::error_code&, int) { ioc.stop(); });
  net::co_spawn(ioc, tail_loop(*ep, "/api/stream" + query, stream_options, options.tail.spans, result),
                [&ioc, &result](std::exception_ptr e) {
                  if (e) result = exit_failure;
                  ioc.stop();
                });
  ioc.run();
  return result;
}

}  // namespace tracecol::cli
