#pragma once
// The open-file limit, which bounds how many agents can be connected at once.

#include <cstdint>

namespace tracecol::ingest {

/**
 * Raises the soft RLIMIT_NOFILE to the hard limit (a daemon serving thousands of agents
 * must not stop at the common 1024 default) and returns the soft limit in force afterwards.
 * Startup only.
 */
std::uint64_t raise_fd_limit();

}  // namespace tracecol::ingest
