#pragma once
// One function per tracectl subcommand; each returns the process exit code
// (exit_codes.hpp) and writes results to stdout, problems to stderr.

#include "client/cli/options.hpp"

namespace tracecol::cli {

int run_send(const CliOptions& options);
int run_ls(const CliOptions& options);
int run_get(const CliOptions& options);
int run_tree(const CliOptions& options);
int run_tail(const CliOptions& options);
int run_bench(const CliOptions& options);

/** Prints "tracectl: message" to stderr. */
void complain(const std::string& message);

/** --timeout as a duration. */
std::chrono::milliseconds timeout_of(const GlobalOptions& global);

}  // namespace tracecol::cli
