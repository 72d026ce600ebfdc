#pragma once
// Runs a helper program (node) to completion with a deadline, capturing its output.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tracecol::integration {

/** What a finished child left behind. */
struct ChildResult {
  int exit_code = -1;  // 128 + signal when a signal ended it
  std::string out;     // its whole stdout
  std::string err;     // its whole stderr
};

/**
 * Runs argv[0] (a path) with `argv` in directory `cwd` and this process's environment,
 * stdout and stderr captured through files in `scratch_dir`. Kills it (SIGKILL) and
 * returns nullopt when it has not exited within `timeout`. Not thread-safe.
 */
std::optional<ChildResult> run_child(const std::vector<std::string>& argv, const std::string& cwd,
                                     const std::string& scratch_dir, std::chrono::milliseconds timeout);

}  // namespace tracecol::integration
