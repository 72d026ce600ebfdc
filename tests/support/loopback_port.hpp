#pragma once
// A loopback TCP port that nothing listens on: bound to port 0, read back, closed. Tests
// and benches use it as an export target that refuses connections, or as a free port.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tracecol::testing {

/** 0 when no port could be had. */
inline int unused_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

}  // namespace tracecol::testing
