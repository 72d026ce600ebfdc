#pragma once
// Every daemon knob, declared once: its flag, TRACECOL_<NAME> environment variable,
// --config file key, default and description all come from add_options().

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tracecol::daemon {

struct Config {
  std::string socket = "/tmp/tracecol.sock";
  std::string socket_mode_text = "0660";
  std::string http_listen = "127.0.0.1:4318";
  std::string http_max_body_text = "20MiB";
  std::string http_timeout_text = "10s";
  std::size_t http_max_connections = 256;
  std::string http_token_file;                  // --http-token-file: bearer token (read by the daemon at start)
  std::vector<std::string> http_allowed_hosts;  // --http-allowed-host: Host names beyond loopback and IP literals
  std::vector<std::string> http_cors_origins;   // --http-cors-origin: origins given CORS headers
  bool export_console = false;
  std::string export_file;
  std::string file_mode = "traces";
  std::string file_max_bytes_text = "0";
  int file_max_backups = 5;
  std::size_t max_traces = 1000;
  std::string max_store_bytes_text = "256MiB";
  std::size_t max_spans_per_trace = 10000;
  std::string max_trace_bytes_text = "0";  // 0: a quarter of --max-store-bytes
  std::string max_line_bytes_text = "1MiB";
  std::string max_line_buffer_bytes_text = "64MiB";
  std::size_t max_depth = 64;
  std::size_t max_connections = 1024;
  std::vector<unsigned> allow_uids;  // --allow-uid: SO_PEERCRED uids let in (with allow_gids; none: all)
  std::vector<unsigned> allow_gids;  // --allow-gid
  std::string trace_linger_text = "1s";
  std::string trace_rootless_linger_text = "60s";
  std::string trace_idle_timeout_text = "5m";
  double sample_rate = 1.0;
  bool sample_keep_errors = true;
  bool no_inputs = false;
  bool no_outputs = false;
  std::vector<std::string> redact_keys;
  bool no_default_redact = false;
  std::size_t export_queue = 10000;
  std::vector<std::string> export_http;  // URLs, one HTTP exporter each (docs/export-http.md)
  std::string export_http_format = "otlp";
  std::vector<std::string> export_http_header_lines;  // "Name: value"; secrets: never logged
  std::string export_http_timeout_text = "10s";
  std::size_t export_http_max_batch_traces = 512;
  std::string export_http_max_batch_bytes_text = "4MiB";
  std::string export_http_max_delay_text = "1s";
  std::string export_http_max_elapsed_text = "60s";
  std::size_t export_http_queue_traces = 10000;
  std::string export_http_queue_bytes_text = "64MiB";
  bool export_http_insecure = false;
  std::string export_http_ca_file;
  std::string export_http_service_name = "tracecol";
  int threads = 2;
  std::string log_level = "info";

  // Derived by finalize() from the text forms above.
  std::vector<std::string> warnings;  // flags given that do nothing here: logged at startup
  unsigned socket_mode = 0660;
  std::uint64_t file_max_bytes = 0;
  std::uint64_t max_store_bytes = 0;
  std::uint64_t max_trace_bytes = 0;  // resolved: never 0, never over max_store_bytes
  std::uint64_t max_line_bytes = 0;
  std::uint64_t max_line_buffer_bytes = 0;
  std::uint64_t http_max_body = 0;
  std::chrono::nanoseconds http_timeout{};
  std::chrono::nanoseconds trace_linger{};
  std::chrono::nanoseconds trace_rootless_linger{};
  std::chrono::nanoseconds trace_idle_timeout{};
  std::vector<std::pair<std::string, std::string>> export_http_headers;
  std::uint64_t export_http_max_batch_bytes = 0;
  std::uint64_t export_http_queue_bytes = 0;
  std::chrono::nanoseconds export_http_timeout{};
  std::chrono::nanoseconds export_http_max_delay{};
  std::chrono::nanoseconds export_http_max_elapsed{};
};

/** Declares every option on app (flags, env vars, config-file keys, checks). */
void add_options(CLI::App& app, Config& config);

/** Parses the text forms and applies cross-option rules; an error message, or nullopt. */
std::optional<std::string> finalize(Config& config);

/** "250ms", "2s", "5m", "1h", "1.5s", or plain seconds. */
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);
/** "Name: value" (an RFC 9110 token name; no CR, LF or NUL in the value, trimmed). */
std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view line);
/** "64KiB", "256MiB", "1GiB", "10MB", "4k", or plain bytes. */
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace tracecol::daemon
