#pragma once
// The connecting process as the kernel saw it at connect() (SO_PEERCRED): who may connect
// (--allow-uid / --allow-gid) and who sent each span (its "peer.pid" / "peer.uid").

#include <sys/socket.h>

#include <cstdint>
#include <optional>

namespace tracecol::ingest {

struct PeerCred {
  std::int32_t pid = 0;  // 0 when the peer is in a pid namespace we cannot see into
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

/** SO_PEERCRED of a connected Unix socket; nullopt when the kernel will not say. */
inline std::optional<PeerCred> read_peer_cred(int fd) {
  ucred cred{};
  socklen_t size = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0 || size != sizeof cred) return std::nullopt;
  return PeerCred{static_cast<std::int32_t>(cred.pid), static_cast<std::uint32_t>(cred.uid),
                  static_cast<std::uint32_t>(cred.gid)};
}

}  // namespace tracecol::ingest
