#pragma once
// A blocking Unix-socket connection to the daemon's ingest socket: large writes, then a
// flush line and the daemon's flushed answer. Used by send and bench.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tracecol::cli {

/** The daemon's answer to {"type":"flush"} (protocol/PROTOCOL.md). */
struct Flushed {
  std::uint64_t id = 0;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::string last_error;  // empty when null
};

/** Parses one flushed line; nullopt for anything else. */
std::optional<Flushed> parse_flushed(std::string_view line);

/** One connection; owns its fd. Not thread-safe (one per thread). */
class SocketClient {
 public:
  SocketClient() = default;
  ~SocketClient();
  SocketClient(const SocketClient&) = delete;
  SocketClient& operator=(const SocketClient&) = delete;

  /** Connects to path; false with error() set ("cannot connect to ...: reason"). */
  bool connect(const std::string& path);
  /** Writes every byte, waiting at most timeout for the daemon to take them. */
  bool write_all(std::string_view bytes, std::chrono::milliseconds timeout);
  /** Sends a flush line and waits for its flushed answer. */
  std::optional<Flushed> flush(std::uint64_t id, std::chrono::milliseconds timeout);

  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  std::string path_;
  std::string error_;
  std::string input_;  // bytes read but not yet a whole line
};

}  // namespace tracecol::cli
