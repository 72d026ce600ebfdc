// tracecol: the trace collector daemon for AI-agent processes.
#include <cstdio>

#include "daemon/config.hpp"
#include "daemon/daemon.hpp"
#include "daemon/hugepage_malloc.hpp"

int main(int argc, char** argv) {
  tracecol::daemon::reexec_with_hugepage_malloc(argv);  // before any allocation worth the name
  tracecol::daemon::Config config;
  CLI::App app{"tracecol: collects AI-agent spans over a Unix socket into trace trees"};
  tracecol::daemon::add_options(app, config);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every invalid flag or value exits 2 with CLI11's message.
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (auto error = tracecol::daemon::finalize(config)) {
    std::fprintf(stderr, "tracecol: %s\n", error->c_str());
    return 2;
  }
  return tracecol::daemon::run(config);
}
