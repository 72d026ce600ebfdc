#pragma once
// The tracectl binary as a child process: stdin from a string, stdout/stderr to files,
// every wait bounded by a deadline.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

namespace tracecol::integration {

/** $TRACECTL_TEST_BINARY when set, else the tracectl of this build. */
std::string tracectl_binary();

/** A started tracectl; killed (SIGKILL) on destruction if still running. Not thread-safe. */
class Tracectl {
 public:
  Tracectl(const TempDir& dir, std::vector<std::string> args, const std::string& stdin_text = {});
  ~Tracectl();
  Tracectl(const Tracectl&) = delete;
  Tracectl& operator=(const Tracectl&) = delete;

  /** The exit code (128 + signal when killed), or nullopt when it did not exit in time. */
  std::optional<int> wait(std::chrono::milliseconds timeout = default_deadline);
  void signal(int sig) const;
  std::string out() const { return read_file(out_path_); }
  std::string err() const { return read_file(err_path_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> code_;
  std::string out_path_;
  std::string err_path_;
};

struct TracectlRun {
  int code = -1;  // -1: did not exit before the deadline (it was killed)
  std::string out;
  std::string err;
};

/** Runs tracectl to completion. */
TracectlRun run_tracectl(const TempDir& dir, std::vector<std::string> args, const std::string& stdin_text = {});

}  // namespace tracecol::integration
