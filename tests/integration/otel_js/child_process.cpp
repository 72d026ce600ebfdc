#include "tests/integration/otel_js/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.hpp"

namespace tracecol::integration {

std::optional<ChildResult> run_child(const std::vector<std::string>& argv, const std::string& cwd,
                                     const std::string& scratch_dir, std::chrono::milliseconds timeout) {
  static int counter = 0;
  const std::string tag = scratch_dir + "/child" + std::to_string(counter++);
  const std::string out_path = tag + ".stdout";
  const std::string err_path = tag + ".stderr";
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0 || err_fd < 0) {
    if (out_fd >= 0) ::close(out_fd);
    if (err_fd >= 0) ::close(err_fd);
    return std::nullopt;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (::chdir(cwd.c_str()) != 0) _exit(126);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  if (pid < 0) return std::nullopt;

  int status = 0;
  const bool exited = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return std::nullopt;
  }
  return ChildResult{exit_code(status), read_file(out_path), read_file(err_path)};
}

}  // namespace tracecol::integration
