#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "daemon/ingest/uds_listener.hpp"

namespace ingest = tracecol::ingest;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tracecol-uds-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

/** Binds a Unix socket at path; listens when `listen_too`, else leaves it stale on close. */
int bind_socket(const std::string& path, bool listen_too) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  if (listen_too) REQUIRE(::listen(fd, 4) == 0);
  return fd;
}

class NullSink : public ingest::BatchSink {
 public:
  void submit(ingest::IngestBatch&&, Done done) override { done({}); }
};

struct Fixture {
  tracecol::net::io_context io;
  NullSink sink;
  ingest::IngestCounters counters;
  std::atomic<std::int64_t> offset{0};
  ingest::ConnectionContext ctx{sink, counters, {}, 1 << 20, 8, offset};
};

}  // namespace

TEST_SUITE("uds listener") {
  TEST_CASE("sees a missing path, a live socket, a stale socket and a plain file") {
    TempDir dir;
    CHECK(ingest::probe_socket_path(dir.path + "/none") == ingest::PathState::absent);
    int live = bind_socket(dir.path + "/live", true);
    CHECK(ingest::probe_socket_path(dir.path + "/live") == ingest::PathState::live_socket);
    ::close(live);
    int stale = bind_socket(dir.path + "/stale", false);
    ::close(stale);
    CHECK(ingest::probe_socket_path(dir.path + "/stale") == ingest::PathState::stale_socket);
    std::ofstream(dir.path + "/file") << "data";
    CHECK(ingest::probe_socket_path(dir.path + "/file") == ingest::PathState::not_a_socket);
  }

  TEST_CASE("takes over a stale socket and applies the socket mode") {
    TempDir dir;
    const std::string path = dir.path + "/s.sock";
    ::close(bind_socket(path, false));
    Fixture f;
    ingest::UdsListener listener(f.io, {path, 0600, 4, {}, {}}, f.ctx);
    CHECK_FALSE(listener.open().has_value());
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(ingest::probe_socket_path(path) == ingest::PathState::live_socket);
    listener.close();
    CHECK_FALSE(std::filesystem::exists(path));
  }

  TEST_CASE("refuses a path where another process listens, and leaves it alone") {
    TempDir dir;
    const std::string path = dir.path + "/s.sock";
    int live = bind_socket(path, true);
    Fixture f;
    ingest::UdsListener listener(f.io, {path, 0660, 4, {}, {}}, f.ctx);
    auto error = listener.open();
    REQUIRE(error.has_value());
    CHECK(error->find(path) != std::string::npos);
    CHECK(ingest::probe_socket_path(path) == ingest::PathState::live_socket);
    ::close(live);
  }

  TEST_CASE("refuses to replace a file that is not a socket") {
    TempDir dir;
    const std::string path = dir.path + "/notes.txt";
    std::ofstream(path) << "keep me";
    Fixture f;
    ingest::UdsListener listener(f.io, {path, 0660, 4, {}, {}}, f.ctx);
    auto error = listener.open();
    REQUIRE(error.has_value());
    CHECK(error->find("not a socket") != std::string::npos);
    std::ifstream in(path);
    std::string content;
    std::getline(in, content);
    CHECK(content == "keep me");
  }

  TEST_CASE("creates missing socket directories with mode 0750") {
    TempDir dir;
    const std::string path = dir.path + "/run/tracecol/agents.sock";
    Fixture f;
    ingest::UdsListener listener(f.io, {path, 0660, 4, {}, {}}, f.ctx);
    CHECK_FALSE(listener.open().has_value());
    struct stat st{};
    REQUIRE(::stat((dir.path + "/run").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0750);
    REQUIRE(::stat((dir.path + "/run/tracecol").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0750);
    CHECK(ingest::probe_socket_path(path) == ingest::PathState::live_socket);
  }
}
