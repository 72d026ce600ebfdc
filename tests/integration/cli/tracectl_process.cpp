#include "tests/integration/cli/tracectl_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

namespace tracecol::integration {
namespace {

std::atomic<int> next_run{0};

}  // namespace

std::string tracectl_binary() {
  if (const char* env = std::getenv("TRACECTL_TEST_BINARY"); env != nullptr && *env != '\0') return env;
  return TRACECTL_BINARY;
}

Tracectl::Tracectl(const TempDir& dir, std::vector<std::string> args, const std::string& stdin_text) {
  const std::string tag = std::to_string(next_run++);
  const std::string in_path = dir.file("tracectl-" + tag + ".in");
  out_path_ = dir.file("tracectl-" + tag + ".out");
  err_path_ = dir.file("tracectl-" + tag + ".err");
  std::ofstream(in_path, std::ios::binary) << stdin_text;
  args.insert(args.begin(), tracectl_binary());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    const int in = ::open(in_path.c_str(), O_RDONLY);
    const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  REQUIRE(pid_ > 0);
}

Tracectl::~Tracectl() {
  if (pid_ > 0 && !code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::optional<int> Tracectl::wait(std::chrono::milliseconds timeout) {
  if (code_) return code_;
  wait_until([&] {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) code_ = exit_code(status);
    return code_.has_value();
  }, timeout, std::chrono::milliseconds(20));
  return code_;
}

void Tracectl::signal(int sig) const {
  if (pid_ > 0 && !code_) ::kill(pid_, sig);
}

TracectlRun run_tracectl(const TempDir& dir, std::vector<std::string> args, const std::string& stdin_text) {
  Tracectl p(dir, std::move(args), stdin_text);
  TracectlRun r;
  r.code = p.wait().value_or(-1);
  r.out = p.out();
  r.err = p.err();
  return r;
}

}  // namespace tracecol::integration
