#pragma once
// A stand-in for the daemon in unit tests: accepts on a Unix socket, decodes every line
// with the daemon's own decoder and answers flush lines with flushed, as PROTOCOL.md says.

#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/decoder.hpp"

namespace tracecol::client::testing {

class FakeDaemon {
 public:
  explicit FakeDaemon(std::string path) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    thread_ = std::thread([this] { run(); });
  }
  ~FakeDaemon() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return listen_fd_ >= 0; }
  std::size_t accepted() const { std::lock_guard lk(mu_); return accepted_; }
  std::size_t rejected() const { std::lock_guard lk(mu_); return rejected_; }
  std::size_t reads() const { std::lock_guard lk(mu_); return reads_; }
  std::size_t hellos() const { std::lock_guard lk(mu_); return hellos_; }
  std::vector<protocol::Event> events() const { std::lock_guard lk(mu_); return events_; }

 private:
  void run() {
    std::vector<int> conns;
    std::vector<std::string> bufs;
    protocol::Decoder decoder;
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (int c : conns) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      int accepted_fd = -1;
      if (fds[0].revents & POLLIN) accepted_fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buf[65536];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          continue;
        }
        std::lock_guard lk(mu_);
        ++reads_;
        std::string& b = bufs[i - 1];
        b.append(buf, static_cast<std::size_t>(n));
        std::size_t start = 0, nl;
        while ((nl = b.find('\n', start)) != std::string::npos) {
          protocol::Event ev;
          const auto r = decoder.decode(std::string_view(b).substr(start, nl - start), ev);
          start = nl + 1;
          if (!r.ok) {
            ++rejected_;
            continue;
          }
          if (ev.type == protocol::EventType::hello) {
            ++hellos_;
          } else if (ev.type == protocol::EventType::flush) {
            char reply[160];
            const int len = std::snprintf(reply, sizeof reply,
                                          "{\"type\":\"flushed\",\"id\":%llu,\"accepted\":%zu,\"rejected\":%zu,\"last_error\":null}\n",
                                          static_cast<unsigned long long>(ev.flush_id), accepted_, rejected_);
            [[maybe_unused]] const ssize_t w = ::write(fds[i].fd, reply, static_cast<std::size_t>(len));
          } else {
            ++accepted_;
            events_.push_back(std::move(ev));
          }
        }
        b.erase(0, start);
      }
      std::vector<int> live;
      std::vector<std::string> live_bufs;
      for (std::size_t i = 1; i < fds.size(); ++i)
        if (fds[i].fd >= 0) {
          live.push_back(fds[i].fd);
          live_bufs.push_back(std::move(bufs[i - 1]));
        }
      if (accepted_fd >= 0) {
        live.push_back(accepted_fd);
        live_bufs.emplace_back();
      }
      conns = std::move(live);
      bufs = std::move(live_bufs);
    }
    for (int c : conns) ::close(c);
  }

  std::string path_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::size_t accepted_ = 0, rejected_ = 0, reads_ = 0, hellos_ = 0;
  std::vector<protocol::Event> events_;
};

/** A socket path unique to this process and tag. */
inline std::string temp_socket_path(const char* tag) {
  return "/tmp/tracecol-client-test-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

}  // namespace tracecol::client::testing
