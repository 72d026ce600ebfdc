#pragma once
// The HTTP API's routes: a request path and a method mapped to one endpoint. Pure and
// stateless; the server calls route() once per request.

#include <string>
#include <string_view>

namespace tracecol::http {

// Every GET route but the stream also answers HEAD.
enum class Route {
  healthz,     // GET /healthz
  readyz,      // GET /readyz
  traces,      // GET /api/traces
  trace,       // GET /api/traces/{trace_id}
  trace_tree,  // GET /api/traces/{trace_id}/tree
  run,         // GET /api/runs/{run_id}
  metrics,     // GET /metrics
  spans,       // POST /api/spans
  v1_traces,   // POST /v1/traces (OTLP/HTTP JSON)
  stream,      // GET /api/stream (server-sent events; the server streams it, see sse_session.hpp)
  ui,          // GET|HEAD / and /ui/{file} (the embedded web UI; param = the path)
  not_found,
};

/** The route's label in tracecol_http_requests_total{route=...}. */
std::string_view route_label(Route route);

struct RouteMatch {
  Route route = Route::not_found;
  std::string param;             // trace_id or run_id text (decoded), when the route has one
  bool method_allowed = true;    // false: answer 405 with Allow
  std::string_view allow;        // the methods the route accepts ("GET, HEAD", "POST", "GET")
};

/**
 * Matches a path as sent (percent-escapes kept, no query): split on '/' first, each segment
 * decoded after, so "/api/runs/a%2Fb" is the run "a/b". A known path with another method
 * is method_allowed = false; a bad escape matches nothing.
 */
RouteMatch route(std::string_view method, std::string_view raw_path);

}  // namespace tracecol::http
