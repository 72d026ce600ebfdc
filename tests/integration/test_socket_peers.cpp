// --allow-uid / --allow-gid: the daemon checks each agent's SO_PEERCRED and closes a peer
// that is in neither list, counts it and goes on serving the allowed ones.

#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "tests/integration/harness.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

TEST_SUITE("socket peers") {
TEST_CASE("a peer whose uid and gid are not allowed is closed and counted, an allowed uid or gid is served") {
  const std::string other_uid = std::to_string(::getuid() + 4242);
  const std::string other_gid = std::to_string(::getgid() + 4242);
  {
    TempDir dir;
    Daemon d(dir, dir.file("s.sock"), {"--allow-uid", other_uid, "--allow-gid", other_gid});
    REQUIRE(d.wait_ready());
    SocketClient denied(d.socket_path());
    if (denied.connected()) {  // the kernel's backlog accepts; the daemon then closes it
      denied.write_all(span_line(SpanSpec("1", "1")));
      CHECK(denied.wait_eof());
    }
    CHECK(wait_until([&] { return d.err().find("not in --allow-uid / --allow-gid") != std::string::npos; }));
    REQUIRE(d.terminate() == 0);
    CHECK(d.err().find("accepted=0") != std::string::npos);
    CHECK(d.err().find("denied=0") == std::string::npos);  // at least this client was refused
  }
  for (const auto& allow : {std::vector<std::string>{"--allow-uid", other_uid + "," + std::to_string(::getuid())},
                            std::vector<std::string>{"--allow-uid", other_uid, "--allow-gid", std::to_string(::getgid())}}) {
    TempDir dir;
    Daemon d(dir, dir.file("s.sock"), allow);
    REQUIRE(d.wait_ready());
    SocketClient allowed(d.socket_path());
    REQUIRE(allowed.connected());
    REQUIRE(allowed.write_all(span_line(SpanSpec("1", "1"))));
    const auto f = allowed.flush(1);
    REQUIRE(f);
    CHECK(f->accepted == 1);
    allowed.close();
    REQUIRE(d.terminate() == 0);
    CHECK(d.err().find("denied=0") != std::string::npos);
  }
}
}
