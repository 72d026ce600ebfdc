#include "daemon/http/router.hpp"

namespace tracecol::http {

std::string_view route_label(Route route) {
  switch (route) {
    case Route::healthz: return "healthz";
    case Route::readyz: return "readyz";
    case Route::traces: return "traces";
    case Route::trace: return "trace";
    case Route::trace_tree: return "trace_tree";
    case Route::run: return "run";
    case Route::metrics: return "metrics";
    case Route::spans: return "spans";
    case Route::v1_traces: return "v1_traces";
    case Route::stream: return "stream";
    case Route::ui: return "ui";
    case Route::not_found: break;
  }
  return "not_found";
}

RouteMatch route(std::string_view method, std::string_view path) {
  RouteMatch m;
  auto with = [&](Route r, std::string_view allow, std::string param = {}) {
    m.route = r;
    m.allow = allow;
    m.param = std::move(param);
    m.method_allowed = method == allow;
    return m;
  };
  if (path == "/healthz") return with(Route::healthz, "GET");
  if (path == "/readyz") return with(Route::readyz, "GET");
  if (path == "/metrics") return with(Route::metrics, "GET");
  if (path == "/api/traces") return with(Route::traces, "GET");
  if (path == "/api/stream") return with(Route::stream, "GET");
  if (path == "/api/spans") return with(Route::spans, "POST");
  if (path == "/v1/traces") return with(Route::v1_traces, "POST");
  if (path == "/" || path.starts_with("/ui/")) {
    with(Route::ui, "GET, HEAD", std::string(path));
    m.method_allowed = method == "GET" || method == "HEAD";
    return m;
  }
  constexpr std::string_view traces_prefix = "/api/traces/";
  constexpr std::string_view runs_prefix = "/api/runs/";
  if (path.starts_with(traces_prefix)) {
    std::string_view rest = path.substr(traces_prefix.size());
    constexpr std::string_view tree_suffix = "/tree";
    if (rest.ends_with(tree_suffix)) {
      rest.remove_suffix(tree_suffix.size());
      if (!rest.empty() && rest.find('/') == std::string_view::npos)
        return with(Route::trace_tree, "GET", std::string(rest));
    } else if (!rest.empty() && rest.find('/') == std::string_view::npos) {
      return with(Route::trace, "GET", std::string(rest));
    }
  }
  if (path.starts_with(runs_prefix)) {
    std::string_view rest = path.substr(runs_prefix.size());
    if (!rest.empty() && rest.find('/') == std::string_view::npos) return with(Route::run, "GET", std::string(rest));
  }
  return m;
}

}  // namespace tracecol::http
