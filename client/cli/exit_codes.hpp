#pragma once
// tracectl's exit codes: the contract scripts rely on (docs/tracectl.md lists them).

namespace tracecol::cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;    // runtime failure: daemon unreachable, timeout, bad answer
inline constexpr int exit_usage = 2;      // bad command line
inline constexpr int exit_not_found = 3;  // get / tree: no such trace (HTTP 404)
inline constexpr int exit_rejected = 4;   // send: the daemon rejected at least one line

}  // namespace tracecol::cli
