#include "daemon/config.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

#include "daemon/export/http/url.hpp"
#include "daemon/http/access_policy.hpp"
#include "daemon/http/listen_address.hpp"
#include "daemon/log.hpp"

namespace tracecol::daemon {
namespace {

/** Splits "250ms" into 250 and "ms"; nullopt when the number part is not a finite >= 0 value. */
std::optional<std::pair<double, std::string>> split_number(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data() || !std::isfinite(value) || value < 0) return std::nullopt;
  std::string unit(ptr, text.data() + text.size());
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::make_pair(value, unit);
}

}  // namespace

std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view name = line.substr(0, colon);
  for (char ch : name) {
    const auto u = static_cast<unsigned char>(ch);
    if (!(std::isalnum(u) || std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos)) return std::nullopt;
  }
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  for (char ch : value)
    if (ch == '\r' || ch == '\n' || ch == '\0') return std::nullopt;
  return std::make_pair(std::string(name), std::string(value));
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  const auto& [value, unit] = *parts;
  double scale;
  if (unit.empty() || unit == "s") scale = 1e9;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "us") scale = 1e3;
  else if (unit == "ns") scale = 1;
  else if (unit == "m" || unit == "min") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else return std::nullopt;
  const double ns = value * scale;
  if (ns > 1e18) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  const auto& [value, unit] = *parts;
  double scale;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "kib" || unit == "k") scale = 1024.0;
  else if (unit == "mib" || unit == "m") scale = 1024.0 * 1024;
  else if (unit == "gib" || unit == "g") scale = 1024.0 * 1024 * 1024;
  else if (unit == "tib" || unit == "t") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb") scale = 1e3;
  else if (unit == "mb") scale = 1e6;
  else if (unit == "gb") scale = 1e9;
  else if (unit == "tb") scale = 1e12;
  else return std::nullopt;
  const double bytes = value * scale;
  if (bytes > 1e18) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

void add_options(CLI::App& app, Config& c) {
  auto env = [](CLI::Option* o, const char* name) { o->envname(name); return o; };
  env(app.add_option("--socket", c.socket, "Unix socket agents connect to")->capture_default_str(), "TRACECOL_SOCKET");
  env(app.add_option("--socket-mode", c.socket_mode_text, "Socket file permissions (octal)")->capture_default_str(), "TRACECOL_SOCKET_MODE");
  env(app.add_option("--http-listen", c.http_listen, "HTTP API address: HOST:PORT, unix:PATH or off (the last one given wins)")->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)->capture_default_str(), "TRACECOL_HTTP_LISTEN");
  env(app.add_option("--http-max-body", c.http_max_body_text, "Largest HTTP request body accepted (larger: 413)")->capture_default_str(), "TRACECOL_HTTP_MAX_BODY");
  env(app.add_option("--http-timeout", c.http_timeout_text, "Time to read one HTTP request (or wait idle between requests) and write its answer")->capture_default_str(), "TRACECOL_HTTP_TIMEOUT");
  env(app.add_option("--http-max-connections", c.http_max_connections, "HTTP connections served at once (more get 503; /healthz and /readyz probes are still served)")->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))->capture_default_str(), "TRACECOL_HTTP_MAX_CONNECTIONS");
  env(app.add_option("--http-token-file", c.http_token_file, "File holding the bearer token every HTTP route but /healthz and /readyz requires (never logged)"), "TRACECOL_HTTP_TOKEN_FILE");
  env(app.add_option("--http-allowed-host", c.http_allowed_hosts, "Host header name accepted besides localhost and IP literals (repeatable; against DNS rebinding)")->delimiter(','), "TRACECOL_HTTP_ALLOWED_HOST");
  env(app.add_option("--http-cors-origin", c.http_cors_origins, "Origin (scheme://host[:port]) given CORS access to the HTTP API (repeatable; none: no CORS)")->delimiter(','), "TRACECOL_HTTP_CORS_ORIGIN");
  env(app.add_flag("--export-console", c.export_console, "Print each finished trace as a tree on stdout (on when no exporter is named)"), "TRACECOL_EXPORT_CONSOLE");
  env(app.add_option("--export-file", c.export_file, "Append finished traces as NDJSON to this file"), "TRACECOL_EXPORT_FILE");
  env(app.add_option("--file-mode", c.file_mode, "NDJSON file: one line per trace or per span")->check(CLI::IsMember({"traces", "spans"}))->capture_default_str(), "TRACECOL_FILE_MODE");
  env(app.add_option("--file-max-bytes", c.file_max_bytes_text, "Rotate the NDJSON file at this size (0: never)")->capture_default_str(), "TRACECOL_FILE_MAX_BYTES");
  env(app.add_option("--file-max-backups", c.file_max_backups, "Rotated NDJSON files kept")->check(CLI::Range(0, 1000))->capture_default_str(), "TRACECOL_FILE_MAX_BACKUPS");
  env(app.add_option("--max-traces", c.max_traces, "Traces kept in the store (oldest evicted first)")->check(CLI::Range(std::size_t{1}, std::size_t{100000000}))->capture_default_str(), "TRACECOL_MAX_TRACES");
  env(app.add_option("--max-store-bytes", c.max_store_bytes_text, "Memory bound of the store")->capture_default_str(), "TRACECOL_MAX_STORE_BYTES");
  env(app.add_option("--max-spans-per-trace", c.max_spans_per_trace, "Spans accepted per trace")->check(CLI::Range(std::size_t{1}, std::size_t{100000000}))->capture_default_str(), "TRACECOL_MAX_SPANS_PER_TRACE");
  env(app.add_option("--max-trace-bytes", c.max_trace_bytes_text, "Memory one trace may take in the store; its further spans are rejected (0: a quarter of --max-store-bytes)")->capture_default_str(), "TRACECOL_MAX_TRACE_BYTES");
  env(app.add_option("--max-line-bytes", c.max_line_bytes_text, "Longest protocol line accepted")->capture_default_str(), "TRACECOL_MAX_LINE_BYTES");
  env(app.add_option("--max-line-buffer-bytes", c.max_line_buffer_bytes_text, "Memory all agent connections together may hold in unfinished long lines (a line that would need more is rejected)")->capture_default_str(), "TRACECOL_MAX_LINE_BUFFER_BYTES");
  env(app.add_option("--max-depth", c.max_depth, "Deepest JSON nesting accepted in a line")->check(CLI::Range(std::size_t{2}, std::size_t{512}))->capture_default_str(), "TRACECOL_MAX_DEPTH");
  env(app.add_option("--allow-uid", c.allow_uids, "Only agents running as this uid (or an --allow-gid) may connect; repeatable")->delimiter(','), "TRACECOL_ALLOW_UID");
  env(app.add_option("--allow-gid", c.allow_gids, "Only agents with this primary gid (or an --allow-uid) may connect; repeatable")->delimiter(','), "TRACECOL_ALLOW_GID");
  env(app.add_option("--max-connections", c.max_connections, "Agent connections served at once")->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))->capture_default_str(), "TRACECOL_MAX_CONNECTIONS");
  env(app.add_option("--trace-linger", c.trace_linger_text, "Quiet time after the root ends before a trace is complete")->capture_default_str(), "TRACECOL_TRACE_LINGER");
  env(app.add_option("--trace-rootless-linger", c.trace_rootless_linger_text, "Quiet time before a trace with no root span, nothing open, is complete (its root has a remote parent, or comes last)")->capture_default_str(), "TRACECOL_TRACE_ROOTLESS_LINGER");
  env(app.add_option("--trace-idle-timeout", c.trace_idle_timeout_text, "No event this long: export the trace as incomplete")->capture_default_str(), "TRACECOL_TRACE_IDLE_TIMEOUT");
  env(app.add_option("--sample-rate", c.sample_rate, "Fraction of traces exported (decided from the trace_id)")->check(CLI::Range(0.0, 1.0))->capture_default_str(), "TRACECOL_SAMPLE_RATE");
  env(app.add_option("--sample-keep-errors", c.sample_keep_errors, "Export traces with an error whatever the sample rate")->capture_default_str(), "TRACECOL_SAMPLE_KEEP_ERRORS");
  env(app.add_flag("--no-inputs", c.no_inputs, "Drop span inputs at ingest (include_inputs = false)"), "TRACECOL_NO_INPUTS");
  env(app.add_flag("--no-outputs", c.no_outputs, "Drop span outputs at ingest (include_outputs = false)"), "TRACECOL_NO_OUTPUTS");
  env(app.add_option("--redact-key", c.redact_keys, "Key whose values become \"[REDACTED]\" at any depth (repeatable; adds to the defaults)"), "TRACECOL_REDACT_KEY");
  env(app.add_flag("--no-default-redact", c.no_default_redact, "Do not redact authorization, api_key, password, secret, token"), "TRACECOL_NO_DEFAULT_REDACT");
  env(app.add_option("--export-queue", c.export_queue, "Traces queued per exporter before drops")->check(CLI::Range(std::size_t{1}, std::size_t{100000000}))->capture_default_str(), "TRACECOL_EXPORT_QUEUE");
  env(app.add_option("--export-http", c.export_http, "POST finished traces to this http:// or https:// URL (repeatable; one exporter each)"), "TRACECOL_EXPORT_HTTP");
  env(app.add_option("--export-http-format", c.export_http_format, "HTTP export body: otlp (OTLP/HTTP JSON), otlp-proto (OTLP/HTTP protobuf) or json (trace records as NDJSON)")->check(CLI::IsMember({"otlp", "otlp-proto", "json"}))->capture_default_str(), "TRACECOL_EXPORT_HTTP_FORMAT");
  env(app.add_option("--export-http-header", c.export_http_header_lines, "'Name: value' header on every export request (repeatable; never logged)"), "TRACECOL_EXPORT_HTTP_HEADER");
  env(app.add_option("--export-http-timeout", c.export_http_timeout_text, "One export request, connect to answer")->capture_default_str(), "TRACECOL_EXPORT_HTTP_TIMEOUT");
  env(app.add_option("--export-http-max-batch-traces", c.export_http_max_batch_traces, "Traces per export request")->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))->capture_default_str(), "TRACECOL_EXPORT_HTTP_MAX_BATCH_TRACES");
  env(app.add_option("--export-http-max-batch-bytes", c.export_http_max_batch_bytes_text, "Body bytes per export request (a larger single trace goes alone)")->capture_default_str(), "TRACECOL_EXPORT_HTTP_MAX_BATCH_BYTES");
  env(app.add_option("--export-http-max-delay", c.export_http_max_delay_text, "Longest a partial batch waits before it is sent")->capture_default_str(), "TRACECOL_EXPORT_HTTP_MAX_DELAY");
  env(app.add_option("--export-http-max-elapsed", c.export_http_max_elapsed_text, "Give a failing batch up (dropped, counted) after retrying this long")->capture_default_str(), "TRACECOL_EXPORT_HTTP_MAX_ELAPSED");
  env(app.add_option("--export-http-queue-traces", c.export_http_queue_traces, "Traces queued per HTTP exporter (the oldest dropped beyond)")->check(CLI::Range(std::size_t{1}, std::size_t{100000000}))->capture_default_str(), "TRACECOL_EXPORT_HTTP_QUEUE_TRACES");
  env(app.add_option("--export-http-queue-bytes", c.export_http_queue_bytes_text, "Bytes queued per HTTP exporter, as estimated encoded size (the oldest dropped beyond)")->capture_default_str(), "TRACECOL_EXPORT_HTTP_QUEUE_BYTES");
  env(app.add_flag("--export-http-insecure", c.export_http_insecure, "https:// without checking the server certificate (warned about at startup)"), "TRACECOL_EXPORT_HTTP_INSECURE");
  env(app.add_option("--export-http-ca-file", c.export_http_ca_file, "PEM file of CA certificates trusted besides the system store")->check(CLI::ExistingFile), "TRACECOL_EXPORT_HTTP_CA_FILE");
  env(app.add_option("--export-http-service-name", c.export_http_service_name, "OTLP resource attribute service.name")->capture_default_str(), "TRACECOL_EXPORT_HTTP_SERVICE_NAME");
  env(app.add_option("--threads", c.threads, "I/O threads")->check(CLI::Range(1, 256))->capture_default_str(), "TRACECOL_THREADS");
  env(app.add_option("--log-level", c.log_level, "debug, info, warn or error")->check(CLI::IsMember({"debug", "info", "warn", "warning", "error"}))->capture_default_str(), "TRACECOL_LOG_LEVEL");
  app.set_config("--config", "", "Read options from a TOML/INI file (keys are the flag names)");
  // A mistyped key must not start a daemon on defaults (a socket nobody expects).
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.set_version_flag("--version", std::string("tracecol ") + TRACECOL_VERSION);
}

std::optional<std::string> finalize(Config& c) {
  {
    unsigned mode = 0;
    const auto& t = c.socket_mode_text;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), mode, 8);
    if (ec != std::errc() || ptr != t.data() + t.size() || mode > 0777)
      return "--socket-mode: expected an octal mode like 0660, got '" + t + "'";
    c.socket_mode = mode;
  }
  struct SizeOpt { const char* flag; const std::string& text; std::uint64_t& out; std::uint64_t min; };
  for (SizeOpt o : {SizeOpt{"--file-max-bytes", c.file_max_bytes_text, c.file_max_bytes, 0},
                    SizeOpt{"--max-store-bytes", c.max_store_bytes_text, c.max_store_bytes, 1024},
                    SizeOpt{"--max-trace-bytes", c.max_trace_bytes_text, c.max_trace_bytes, 0},
                    SizeOpt{"--max-line-bytes", c.max_line_bytes_text, c.max_line_bytes, 64},
                    SizeOpt{"--max-line-buffer-bytes", c.max_line_buffer_bytes_text, c.max_line_buffer_bytes, 0},
                    SizeOpt{"--http-max-body", c.http_max_body_text, c.http_max_body, 1},
                    SizeOpt{"--export-http-max-batch-bytes", c.export_http_max_batch_bytes_text, c.export_http_max_batch_bytes, 1},
                    SizeOpt{"--export-http-queue-bytes", c.export_http_queue_bytes_text, c.export_http_queue_bytes, 1}}) {
    auto v = parse_size(o.text);
    if (!v)
      return std::string(o.flag) + ": expected a size like 64KiB or 256MiB (units B, KiB/K, MiB/M, GiB/G, TiB/T = powers of 1024; KB, MB, GB, TB = powers of 1000), got '" + o.text + "'";
    if (*v < o.min) return std::string(o.flag) + ": must be at least " + std::to_string(o.min) + " bytes";
    o.out = *v;
  }
  if (c.max_line_bytes > (std::uint64_t{1} << 30)) return "--max-line-bytes: at most 1GiB";
  // One line of the longest size must always be receivable.
  if (c.max_line_buffer_bytes < c.max_line_bytes + 2)
    return "--max-line-buffer-bytes: must be at least --max-line-bytes (one whole line of it)";
  // One trace is kept whatever its size when it is the store's newest: without a bound of
  // its own, a single agent could take the daemon far past --max-store-bytes.
  if (c.max_trace_bytes == 0) c.max_trace_bytes = c.max_store_bytes / 4;
  if (c.max_trace_bytes > c.max_store_bytes) return "--max-trace-bytes: at most --max-store-bytes";
  struct DurOpt { const char* flag; const std::string& text; std::chrono::nanoseconds& out; };
  for (DurOpt o : {DurOpt{"--trace-linger", c.trace_linger_text, c.trace_linger},
                   DurOpt{"--trace-rootless-linger", c.trace_rootless_linger_text, c.trace_rootless_linger},
                   DurOpt{"--trace-idle-timeout", c.trace_idle_timeout_text, c.trace_idle_timeout},
                   DurOpt{"--http-timeout", c.http_timeout_text, c.http_timeout},
                   DurOpt{"--export-http-timeout", c.export_http_timeout_text, c.export_http_timeout},
                   DurOpt{"--export-http-max-delay", c.export_http_max_delay_text, c.export_http_max_delay},
                   DurOpt{"--export-http-max-elapsed", c.export_http_max_elapsed_text, c.export_http_max_elapsed}}) {
    auto v = parse_duration(o.text);
    if (!v) return std::string(o.flag) + ": expected a duration like 250ms, 2s or 5m, got '" + o.text + "'";
    o.out = *v;
  }
  if (c.trace_idle_timeout.count() == 0) return "--trace-idle-timeout: must be more than 0";
  if (c.http_timeout < std::chrono::milliseconds(1)) return "--http-timeout: must be at least 1ms";
  if (c.socket.empty() || c.socket.size() >= 108) return "--socket: the path must be 1..107 bytes (a Unix socket limit)";
  // CLI11's range check lets NaN through (every comparison with it is false).
  if (!(c.sample_rate >= 0.0 && c.sample_rate <= 1.0)) return "--sample-rate: expected a number from 0 to 1";
  if (c.http_listen != "off" && !c.http_listen.starts_with("unix:") && !http::parse_endpoint(c.http_listen))
    return "--http-listen: expected HOST:PORT (port 0-65535), unix:PATH or off, got '" + c.http_listen + "'";
  if (c.http_listen == "unix:" + c.socket) return "--http-listen: unix:" + c.socket + " is the --socket path; give HTTP a path of its own";
  if (c.export_http_timeout < std::chrono::milliseconds(1)) return "--export-http-timeout: must be at least 1ms";
  for (const auto& url : c.export_http) {
    std::string why;
    if (!exporters::http::parse_url(url, &why)) return "--export-http " + exporters::http::url_for_log(url) + ": " + why;
  }
  c.export_http_headers.clear();
  for (const auto& line : c.export_http_header_lines) {
    // Never echo the value: it is usually a credential.
    auto header = parse_header_line(line);
    if (!header) return "--export-http-header: expected 'Name: value' (a token name, no CR/LF)";
    c.export_http_headers.push_back(std::move(*header));
  }
  for (const auto& origin : c.http_cors_origins) {
    if (!http::normalize_origin(origin)) return "--http-cors-origin: expected scheme://host[:port] (http or https, no path, no *), got '" + origin + "'";
  }
  for (const auto& host : c.http_allowed_hosts) {
    if (http::host_of(host).empty()) return "--http-allowed-host: expected a host name, got an empty one";
  }
  // Given but without effect: said at startup (a typo'd or forgotten --export-http is likely).
  if (c.export_http.empty() && (!c.export_http_header_lines.empty() || c.export_http_insecure || !c.export_http_ca_file.empty()))
    c.warnings.emplace_back("--export-http-header, --export-http-insecure and --export-http-ca-file do nothing without --export-http");
  if (c.http_listen == "off" && !c.http_token_file.empty())
    c.warnings.emplace_back("--http-token-file does nothing with --http-listen off");
  if (!c.export_console && c.export_file.empty() && c.export_http.empty()) c.export_console = true;
  for (auto& k : c.redact_keys)
    for (char& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  LogLevel level;
  if (!parse_log_level(c.log_level, level)) return "--log-level: expected debug, info, warn or error";
  return std::nullopt;
}

}  // namespace tracecol::daemon
