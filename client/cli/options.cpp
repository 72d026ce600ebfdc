#include "client/cli/options.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "client/cli/exit_codes.hpp"
#include "client/cli/http_client.hpp"

namespace tracecol::cli {
namespace {

/** A trace id as the API takes it: 1-32 hex digits. Anything else is a usage error (exit 2), not a 400. */
const CLI::Validator trace_id_check(
    [](std::string& id) -> std::string {
      const bool hex = !id.empty() && id.size() <= 32 &&
                       id.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
      return hex ? std::string() : "expected 1-32 hex digits, got '" + id + "'";
    },
    "HEX");

void add_global(CLI::App& app, GlobalOptions& g) {
  app.add_option("--socket", g.socket, "The daemon's Unix socket (send, bench)")
      ->envname("TRACECOL_SOCKET")->capture_default_str();
  app.add_option("--http", g.http, "The daemon's HTTP API: HOST:PORT or unix:/path (ls, get, tree, tail)")
      ->envname("TRACECOL_HTTP")->capture_default_str();
  app.add_option("--token-file", g.token_file,
                 "A file holding the bearer token of a daemon started with --http-token-file (ls, get, tree, tail)")
      ->envname("TRACECOL_HTTP_TOKEN_FILE");
  app.add_option("--timeout", g.timeout_s, "Seconds to wait for the daemon: each request, connect, or flush")
      ->check(CLI::Range(0.001, 1e6))->capture_default_str();
}

void add_filters(CLI::App& cmd, FilterOptions& f) {
  cmd.add_option("--run-id", f.run_id, "Only traces of this run");
  cmd.add_option("--name", f.name, "Only traces with a span of this name");
  cmd.add_option("--kind", f.kind, "Only traces with a span of this kind (AGENT, TOOL, LLM, CHAIN, TEAM, CUSTOM)");
  auto* errors = cmd.add_flag("--errors", f.errors, "Only traces with an error");
  auto* no_errors = cmd.add_flag("--no-errors", f.no_errors, "Only traces without errors");
  errors->excludes(no_errors);
  cmd.add_option("--min-duration-ms", f.min_duration_ms, "Only traces at least this long (ms)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("-q,--query", f.q, "Full-text search (the API's q)");
  cmd.add_option("--meta", f.meta, "Only traces whose metadata has KEY=VALUE (repeatable)");
}

}  // namespace

std::optional<double> parse_rate(const std::string& text) {
  double v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v) || v <= 0) return std::nullopt;
  return v;
}

std::unique_ptr<CLI::App> make_app(CliOptions& o) {
  auto app = std::make_unique<CLI::App>(
      "tracectl: talk to a tracecol daemon.\nExit codes: 0 ok, 1 runtime failure (daemon unreachable, "
      "timeout), 2 usage error, 3 trace not found (get, tree), 4 lines rejected (send).",
      "tracectl");
  app->set_version_flag("--version", std::string("tracectl ") + TRACECOL_VERSION);
  app->require_subcommand(1);
  add_global(*app, o.global);

  auto* send = app->add_subcommand("send", "Send NDJSON protocol lines from stdin, then flush and report the "
                                           "daemon's accepted/rejected counts");
  (void)send;

  auto* ls = app->add_subcommand("ls", "List recent traces, newest first");
  add_filters(*ls, o.ls.filter);
  ls->add_option("--since", o.ls.since, "Started at or after: epoch seconds, or a duration ago (30s, 15m, 2h, 1d)");
  ls->add_option("--until", o.ls.until, "Started at or before: epoch seconds, or a duration ago");
  ls->add_option("--limit", o.ls.limit, "At most this many traces")->check(CLI::Range(1, 1000))->capture_default_str();
  ls->add_flag("--json", o.ls.json, "Print the API's JSON instead of a table");

  auto* get = app->add_subcommand("get", "Print one trace as JSON");
  get->add_option("id", o.get.id, "Trace id (hex)")->required()->check(trace_id_check);
  get->add_flag("--raw", o.get.raw, "Print the JSON exactly as the API sent it (one line)");

  auto* tree = app->add_subcommand("tree", "Print one trace as the console exporter's tree");
  tree->add_option("id", o.tree.id, "Trace id (hex)")->required()->check(trace_id_check);

  auto* tail = app->add_subcommand("tail", "Follow finished traces live (GET /api/stream), rendered as the "
                                           "console exporter does; Ctrl-C stops");
  add_filters(*tail, o.tail.filter);
  tail->add_flag("--spans", o.tail.spans, "Also print each finished span as it arrives");
  tail->add_option("--idle-timeout", o.tail.idle_timeout_s, "Reconnect after this many seconds without a byte")
      ->check(CLI::Range(0.001, 1e6))->capture_default_str();

  auto* bench = app->add_subcommand("bench", "Load generator: send spans over N connections, then compare the "
                                             "daemon's accepted count with what was sent");
  bench->add_option("-c,--connections", o.bench.connections, "Parallel socket connections")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  bench->add_option("--spans-per-trace", o.bench.spans_per_trace, "Spans in each trace (one root, the rest its children)")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  bench->add_option("--payload-bytes", o.bench.payload_bytes, "Bytes of filler in each span's inputs")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  bench->add_option("--rate", o.bench.rate, "Spans per second over all connections, or max")
      ->check([](const std::string& s) -> std::string {
        return s == "max" || parse_rate(s) ? std::string() : "expected a positive number or max";
      })
      ->capture_default_str();
  bench->add_option("-d,--duration", o.bench.duration_s, "Seconds to send for")
      ->check(CLI::Range(0.001, 1e6))->capture_default_str();

  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) {
    sub->callback([&o, sub] { o.command = sub->get_name(); });
  }
  return app;
}

std::optional<int> parse_command_line(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, version or the error
    return code == 0 ? exit_ok : exit_usage;
  }
  return std::nullopt;
}

std::string filter_query(const FilterOptions& f, std::string& error) {
  std::string q;
  auto add = [&q](std::string_view key, std::string_view value) {
    q += q.empty() ? '?' : '&';
    q += key;
    q += '=';
    q += url_encode(value);
  };
  if (!f.run_id.empty()) add("run_id", f.run_id);
  if (!f.name.empty()) add("name", f.name);
  if (!f.kind.empty()) add("kind", f.kind);
  if (f.errors) add("error", "true");
  if (f.no_errors) add("error", "false");
  if (!f.min_duration_ms.empty()) add("min_duration_ms", f.min_duration_ms);
  if (!f.q.empty()) add("q", f.q);
  for (const std::string& m : f.meta) {
    const std::size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "--meta: expected KEY=VALUE, got '" + m + "'";
      return {};
    }
    add("meta." + url_encode(m.substr(0, eq)), m.substr(eq + 1));
  }
  return q;
}

std::optional<std::string> time_bound(const std::string& text, double now_s) {
  if (text.empty()) return std::nullopt;
  double v = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  if (p == end) return text;
  if (p + 1 != end) return std::nullopt;
  double unit = 0;
  switch (*p) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", now_s - v * unit);
  return std::string(buf);
}

}  // namespace tracecol::cli
