#include "daemon/hugepage_malloc.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace tracecol::daemon {
namespace {

constexpr const char* tunable = "glibc.malloc.hugetlb";

/** The kernel's THP mode: the bracketed word of /sys/kernel/mm/transparent_hugepage/enabled. */
std::string thp_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const auto open = line.find('[');
  const auto close = line.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  return line.substr(open + 1, close - open - 1);
}

std::string current_tunables() {
  const char* t = std::getenv("GLIBC_TUNABLES");
  return t ? t : "";
}

}  // namespace

void reexec_with_hugepage_malloc(char** argv) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)argv;  // the sanitizer's allocator replaces glibc's: the tunable means nothing there
#else
  const std::string tunables = current_tunables();
  if (tunables.find(tunable) != std::string::npos) return;  // the operator's choice, or done
  if (thp_mode() != "madvise") return;  // "always" already backs the heap; "never" can't
  // The binary's own path, not /proc/self/exe: the kernel names the process after the file
  // exec'd, and ps, top and pgrep must keep seeing "tracecol", not "exe".
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = '\0';
  const std::string with = tunables.empty() ? std::string(tunable) + "=1" : tunables + ":" + tunable + "=1";
  if (::setenv("GLIBC_TUNABLES", with.c_str(), 1) != 0) return;
  ::execv(self, argv);
  // No /proc, or the binary replaced on disk since it started: run on 4 KiB pages, and
  // leave the environment as it was.
  if (tunables.empty()) {
    ::unsetenv("GLIBC_TUNABLES");
  } else {
    ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
  }
#endif
}

const char* malloc_pages_description() {
  const std::string tunables = current_tunables();
  if (tunables.find(std::string(tunable) + "=1") != std::string::npos) return "huge pages (glibc.malloc.hugetlb=1)";
  if (tunables.find(tunable) != std::string::npos) return "as GLIBC_TUNABLES sets glibc.malloc.hugetlb";
  if (thp_mode() == "always") return "huge pages (THP always)";
  return "4 KiB pages";
}

}  // namespace tracecol::daemon
