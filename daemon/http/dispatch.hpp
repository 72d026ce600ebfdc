#pragma once
// One parsed HTTP request to its Response: target checks, routing, the endpoints of
// api.hpp, and POST /api/spans handed to the pipeline (resuming once it was applied).

#include <boost/beast/http.hpp>

#include <optional>
#include <string_view>

#include "daemon/http/api.hpp"
#include "daemon/http/metrics.hpp"
#include "daemon/http/server.hpp"
#include "daemon/net.hpp"

namespace tracecol::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

/** What a request may read; references into the server's state, valid for the call. */
struct DispatchContext {
  const ServerOptions& options;
  const ServerContext& context;
  const RequestCounters& requests;
  bool stopping;  // shutting down: everything but /healthz and /metrics answers 503
  ServerCounters* counters = nullptr;  // the server's own counters (OTLP ingest, connections); may be null
};

/**
 * The answer a request gets on its head alone, if any: a bad target, no route, a method
 * the route does not take, shutting down, or a body type the route refuses. The server
 * asks before answering "100 Continue", so a refused client never sends its body.
 * label is set to the route's metric label. dispatch() starts with the same checks.
 */
std::optional<Response> refuse_on_head(const DispatchContext& ctx, const Request& req, std::string_view& label);

/**
 * Answers one request (never throws on request content). Runs on the caller's executor
 * and resumes there; label is set to the route's metric label.
 */
net::awaitable<Response> dispatch(const DispatchContext& ctx, const Request& req, std::string_view& label);

}  // namespace tracecol::http
