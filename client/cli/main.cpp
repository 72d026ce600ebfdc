// tracectl: the command-line client of the tracecol daemon.

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"

int main(int argc, char** argv) {
  using namespace tracecol::cli;
  CliOptions options;
  auto app = make_app(options);
  if (auto code = parse_command_line(*app, argc, argv)) return *code;
  if (options.command == "send") return run_send(options);
  if (options.command == "ls") return run_ls(options);
  if (options.command == "get") return run_get(options);
  if (options.command == "tree") return run_tree(options);
  if (options.command == "tail") return run_tail(options);
  if (options.command == "bench") return run_bench(options);
  complain("no command given (see --help)");
  return exit_usage;
}
