// tracecol: the trace collector daemon for AI-agent processes.
#include <cstdio>
#include <string>

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
  } catch (const CLI::ConfigError& e) {
    // CLI11 says "INI was not able to parse KEY" for a key that is no flag: say what it is.
    const std::string what = e.what();
    const std::string marker = "not able to parse ";
    const std::size_t at = what.find(marker);
    if (at == std::string::npos) return app.exit(e) == 0 ? 0 : 2;
    std::fprintf(stderr, "tracecol: --config: unknown key '%s' (keys are the flag names without '--', e.g. "
                 "max-traces = 5000; tracecol --help lists them)\n", what.substr(at + marker.size()).c_str());
    return 2;
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
