// --max-connections: the daemon closes connections over the cap and serves new ones once below it.

#include <doctest/doctest.h>

#include <memory>

#include "tests/integration/harness.hpp"
#include "tests/integration/wire.hpp"

using namespace tracecol::integration;

namespace {

/** Connects until a flush round trip works (a readiness probe may still hold a slot briefly). */
std::unique_ptr<SocketClient> served_client(const std::string& sock, std::int64_t id) {
  std::unique_ptr<SocketClient> out;
  wait_until([&] {
    auto c = std::make_unique<SocketClient>(sock);
    if (!c->connected()) return false;
    auto f = c->flush(id, std::chrono::seconds(5));
    if (!f) return false;
    out = std::move(c);
    return true;
  });
  return out;
}

}  // namespace

TEST_SUITE("connections") {
TEST_CASE("with --max-connections 2 a third connection is closed while the first two work and a slot frees on close") {
  TempDir dir;
  Daemon d(dir, dir.file("s.sock"), {"--max-connections", "2", "--export-file", dir.file("out.ndjson")});
  REQUIRE(d.wait_ready());

  auto a = served_client(d.socket_path(), 1);
  REQUIRE(a);
  auto b = served_client(d.socket_path(), 2);
  REQUIRE(b);

  SocketClient third(d.socket_path());
  // connect() may succeed (the kernel backlog accepts); the daemon must then close it.
  if (third.connected()) {
    third.write_all(span_line(SpanSpec("9", "9")));
    CHECK(third.wait_eof());
  }

  // The first two still work.
  REQUIRE(a->write_all(span_line(SpanSpec("1", "1"))));
  auto fa = a->flush(3);
  REQUIRE(fa);
  CHECK(fa->accepted == 1);
  REQUIRE(b->write_all(span_line(SpanSpec("2", "1"))));
  auto fb = b->flush(4);
  REQUIRE(fb);
  CHECK(fb->accepted == 1);

  // Free a slot; a new connection is then served (retrying while the daemon notices the close).
  a->close();
  auto c = served_client(d.socket_path(), 5);
  REQUIRE(c);
  REQUIRE(c->write_all(span_line(SpanSpec("3", "1"))));
  auto fc = c->flush(6);
  REQUIRE(fc);
  CHECK(fc->accepted == 1);

  CHECK(d.running());
  CHECK(d.err().find("exit summary") == std::string::npos);
  auto st = d.terminate();
  REQUIRE(st);
  CHECK(d.err().find("refused=") != std::string::npos);
  // The operator hears of it, naming the flag, not only in a counter.
  if (third.connected()) CHECK(d.err().find("agents connected already (--max-connections)") != std::string::npos);
}
}
