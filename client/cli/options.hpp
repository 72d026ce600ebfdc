#pragma once
// tracectl's command line: one options struct per subcommand, declared once on a
// CLI::App (type, default, help), parsed by tests without running anything.

#include <CLI/CLI.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tracecol::cli {

struct GlobalOptions {
  std::string socket = "/tmp/tracecol.sock";  // --socket, TRACECOL_SOCKET
  std::string http = "127.0.0.1:4318";        // --http, TRACECOL_HTTP
  std::string token_file;                     // --token-file, TRACECOL_HTTP_TOKEN_FILE (the daemon's --http-token-file)
  double timeout_s = 10;                      // --timeout: each request / flush wait
};

/** The /api/traces and /api/stream filters (ls and tail). */
struct FilterOptions {
  std::string run_id;
  std::string name;
  std::string kind;
  bool errors = false;     // error=true
  bool no_errors = false;  // error=false
  std::string min_duration_ms;
  std::string q;
  std::vector<std::string> meta;  // KEY=VALUE
};

struct LsOptions {
  FilterOptions filter;
  std::string since;  // epoch seconds, or a duration ago ("15m")
  std::string until;
  std::size_t limit = 20;
  bool json = false;
};

struct GetOptions {
  std::string id;
  bool raw = false;
};

struct TailOptions {
  FilterOptions filter;
  bool spans = false;
  double idle_timeout_s = 45;  // three missed keepalives
};

struct SendOptions {};

struct BenchOptions {
  std::size_t connections = 1;
  std::size_t spans_per_trace = 10;
  std::size_t payload_bytes = 100;
  std::string rate = "max";  // spans/s over all connections, or "max"
  double duration_s = 5;
};

/** Everything parsed; `command` names the subcommand that ran ("ls", "get", ...). */
struct CliOptions {
  GlobalOptions global;
  SendOptions send;
  LsOptions ls;
  GetOptions get;
  GetOptions tree;
  TailOptions tail;
  BenchOptions bench;
  std::string command;
};

/** The whole command line bound to `options` (which must outlive the app). */
std::unique_ptr<CLI::App> make_app(CliOptions& options);

/**
 * Parses argv into options. Returns nullopt when the command should run, else the exit
 * code (0 after --help, 2 for a usage error, with the message already printed).
 */
std::optional<int> parse_command_line(CLI::App& app, int argc, const char* const* argv);

/** The query string ("?run_id=a&error=true") for the filters; error set for a bad --meta. */
std::string filter_query(const FilterOptions& filter, std::string& error);

/** A --rate value: a finite positive number of spans per second; nullopt otherwise ("max" too). */
std::optional<double> parse_rate(const std::string& text);

/** --since/--until: epoch seconds as given, or "N[s|m|h|d]" ago from now_s. */
std::optional<std::string> time_bound(const std::string& text, double now_s);

}  // namespace tracecol::cli
