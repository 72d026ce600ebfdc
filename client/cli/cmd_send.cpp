// tracectl send: stdin to the ingest socket in large writes, then flush/flushed.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "client/cli/commands.hpp"
#include "client/cli/exit_codes.hpp"
#include "client/cli/socket_client.hpp"

namespace tracecol::cli {

void complain(const std::string& message) { std::fprintf(stderr, "tracectl: %s\n", message.c_str()); }

std::chrono::milliseconds timeout_of(const GlobalOptions& global) {
  return std::chrono::milliseconds(static_cast<long long>(global.timeout_s * 1000));
}

int run_send(const CliOptions& options) {
  const auto timeout = timeout_of(options.global);
  SocketClient client;
  if (!client.connect(options.global.socket)) {
    complain(client.error());
    return exit_failure;
  }
  std::string buffer(64 * 1024, '\0');
  char last = '\n';
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      complain(std::string("reading stdin: ") + std::strerror(errno));
      return exit_failure;
    }
    if (n == 0) break;
    const std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
    if (!client.write_all(chunk, timeout)) {
      complain(client.error());
      return exit_failure;
    }
    last = chunk.back();
  }
  // An unterminated last line would otherwise swallow the flush line.
  if (last != '\n' && !client.write_all("\n", timeout)) {
    complain(client.error());
    return exit_failure;
  }
  const auto flushed = client.flush(1, timeout);
  if (!flushed) {
    complain(client.error());
    return exit_failure;
  }
  std::printf("accepted %llu, rejected %llu", static_cast<unsigned long long>(flushed->accepted),
              static_cast<unsigned long long>(flushed->rejected));
  if (!flushed->last_error.empty()) std::printf(" (last error: %s)", flushed->last_error.c_str());
  std::printf("\n");
  return flushed->rejected == 0 ? exit_ok : exit_rejected;
}

}  // namespace tracecol::cli
