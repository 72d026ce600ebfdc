#pragma once
// The whole daemon: builds the pipeline from a Config, runs it until SIGTERM/SIGINT,
// drains, and reports. main() is a thin shell around run().

#include "daemon/config.hpp"

namespace tracecol::daemon {

/** Runs until a stop signal; returns the process exit code (0 after a clean drain). */
int run(const Config& config);

}  // namespace tracecol::daemon
