#include "daemon/http/router.hpp"

#include <initializer_list>
#include <vector>

#include "daemon/http/query.hpp"

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

RouteMatch route(std::string_view method, std::string_view raw_path) {
  RouteMatch m;
  auto with = [&](Route r, std::string_view allow, std::string param = {}) {
    m.route = r;
    m.allow = allow;
    m.param = std::move(param);
    m.method_allowed = method == allow;
    return m;
  };
  // HEAD wherever GET is served (RFC 9110 §9.3.2): the server sends the GET answer's head
  // without its body. Not on the stream, whose answer never ends (its Allow says GET).
  auto readable = [&](Route r, std::string param = {}) {
    with(r, "GET, HEAD", std::move(param));
    m.method_allowed = method == "GET" || method == "HEAD";
    return m;
  };
  if (!raw_path.starts_with('/')) return m;
  // Split first, decode each segment after: an escaped '/' (%2F) stays inside its segment,
  // so the run id "a/b" arrives whole as /api/runs/a%2Fb.
  std::vector<std::string> seg;
  for (std::string_view rest = raw_path.substr(1);;) {
    const std::size_t slash = rest.find('/');
    auto decoded = percent_decode(rest.substr(0, slash), false);
    if (!decoded) return m;
    seg.push_back(std::move(*decoded));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  // "*" in a pattern: any non-empty segment.
  auto is = [&seg](std::initializer_list<std::string_view> pattern) {
    if (seg.size() != pattern.size()) return false;
    auto s = seg.begin();
    for (std::string_view p : pattern) {
      if (p == "*" ? s->empty() : *s != p) return false;
      ++s;
    }
    return true;
  };
  if (is({"healthz"})) return readable(Route::healthz);
  if (is({"readyz"})) return readable(Route::readyz);
  if (is({"metrics"})) return readable(Route::metrics);
  if (is({"api", "traces"})) return readable(Route::traces);
  if (is({"api", "stream"})) return with(Route::stream, "GET");
  if (is({"api", "spans"})) return with(Route::spans, "POST");
  if (is({"v1", "traces"})) return with(Route::v1_traces, "POST");
  if (is({"api", "traces", "*"})) return readable(Route::trace, std::move(seg[2]));
  if (is({"api", "traces", "*", "tree"})) return readable(Route::trace_tree, std::move(seg[2]));
  if (is({"api", "runs", "*"})) return readable(Route::run, std::move(seg[2]));
  if (is({""}) || (seg.size() >= 2 && seg[0] == "ui"))
    return readable(Route::ui, percent_decode(raw_path, false).value_or(std::string()));
  return m;
}

}  // namespace tracecol::http
