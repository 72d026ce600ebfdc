// A real listener and connections on a real socket, with a stand-in for the assembler.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon/ingest/uds_listener.hpp"

namespace ingest = tracecol::ingest;
namespace protocol = tracecol::protocol;
namespace net = tracecol::net;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr protocol::SpanId refused_span = 0xbad;

/**
 * Applies batches like the assembler would: refuses spans with span_id 0xbad (as
 * too_many_spans). When holding, keeps the done callbacks until release() is called.
 */
class FakeAssembler : public ingest::BatchSink {
 public:
  explicit FakeAssembler(bool holding = false) : holding_(holding) {}

  void submit(ingest::IngestBatch&& batch, Done done) override {
    std::vector<ingest::AppliedRejection> rejected;
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
      if (batch.events[i].span.span_id == refused_span) rejected.push_back({i, protocol::RejectReason::too_many_spans});
    }
    std::lock_guard lock(mu_);
    events_ += batch.events.size();
    if (!holding_) {
      done(std::move(rejected));
      return;
    }
    held_.push_back([done = std::move(done), rejected = std::move(rejected)]() mutable { done(std::move(rejected)); });
    max_held_ = std::max(max_held_, held_.size());
    changed_.notify_all();
  }

  /** Applies every held batch; returns how many. */
  std::size_t release() {
    std::vector<std::function<void()>> ready;
    {
      std::lock_guard lock(mu_);
      ready.swap(held_);
    }
    for (auto& f : ready) f();
    return ready.size();
  }

  bool wait_held(std::size_t n, Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return changed_.wait_until(lock, deadline, [&] { return held_.size() >= n; });
  }

  std::size_t max_held() {
    std::lock_guard lock(mu_);
    return max_held_;
  }
  std::size_t events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  const bool holding_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::function<void()>> held_;
  std::size_t max_held_ = 0;
  std::size_t events_ = 0;
};

/** A listener on a temporary socket served by one io thread. */
struct Server {
  std::string dir;
  std::string path;
  FakeAssembler sink;
  ingest::IngestCounters counters;
  std::atomic<std::int64_t> offset{0};
  ingest::ConnectionContext ctx;
  net::io_context io;  // after what connections use: its handlers may hold the last ones
  std::optional<ingest::UdsListener> listener;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread thread;

  explicit Server(bool holding = false, std::size_t max_connections = 16)
      : sink(holding), ctx{sink, counters, {}, 4096, 8, offset} {
    char tmpl[] = "/tmp/tracecol-conn-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir + "/s.sock";
    listener.emplace(io, ingest::ListenerOptions{path, 0600, max_connections, {}, {}}, ctx);
    auto error = listener->open();
    REQUIRE_FALSE(error.has_value());
    listener->start();
    work.emplace(io.get_executor());
    thread = std::thread([this] { io.run(); });
  }
  ~Server() {
    listener->stop(Clock::now());
    work.reset();
    thread.join();
    // Batches still held: apply them and let their connections finish before io goes.
    sink.release();
    io.restart();
    io.run();
    listener.reset();
    std::filesystem::remove_all(dir);
  }

  template <typename Cond>
  bool wait_for(Cond cond) {
    const auto deadline = Clock::now() + 10s;
    while (!cond()) {
      if (Clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }
};

struct Client {
  int fd = -1;
  std::string pending;

  explicit Client(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  void send(const std::string& bytes) {
    for (std::size_t off = 0; off < bytes.size();) {
      ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      REQUIRE(n > 0);
      off += static_cast<std::size_t>(n);
    }
  }

  /** The next line from the daemon; nullopt on EOF or after 10 s. */
  std::optional<std::string> read_line() {
    const auto deadline = Clock::now() + 10s;
    for (;;) {
      if (auto nl = pending.find('\n'); nl != std::string::npos) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
      char buf[4096];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      pending.append(buf, static_cast<std::size_t>(n));
    }
  }
};

std::string span(const char* span_id) {
  return std::string(R"({"type":"span","trace_id":"3a7f1c2b","span_id":")") + span_id +
         R"(","started_at":1732500000.5})" + "\n";
}

}  // namespace

TEST_SUITE("connection") {
  TEST_CASE("answers flush with the counts of every earlier line, assembler rejections included") {
    Server server;
    Client c(server.path);
    // The assembler refuses the second line; the decoder refuses the third, which is later.
    c.send(span("1") + span("bad") + "not json\n" + "\n" + span("2") + R"({"type":"flush","id":7})" + "\n");
    auto reply = c.read_line();
    REQUIRE(reply.has_value());
    CHECK(*reply == R"({"type":"flushed","id":7,"accepted":2,"rejected":2,"last_error":"invalid_json"})");
    // Now the latest rejection is the assembler's.
    c.send(span("bad") + R"({"type":"flush","id":8})" + "\n");
    reply = c.read_line();
    REQUIRE(reply.has_value());
    CHECK(*reply == R"({"type":"flushed","id":8,"accepted":2,"rejected":3,"last_error":"too_many_spans"})");
    c.close();
    REQUIRE(server.wait_for([&] { return server.counters.connections_active.load() == 0; }));
    CHECK(server.counters.lines_received.load() == 7);
    CHECK(server.counters.lines_blank.load() == 1);
    CHECK(server.counters.control_lines.load() == 2);
    CHECK(server.counters.events_accepted.load() == 2);
    CHECK(server.counters.rejected_total() == 3);
    CHECK(server.counters.flushes_answered.load() == 2);
  }

  TEST_CASE("answers a flush on a fresh connection with zero counts and a null last_error") {
    Server server;
    Client c(server.path);
    c.send(R"({"type":"flush","id":1})" "\n");
    auto reply = c.read_line();
    REQUIRE(reply.has_value());
    CHECK(*reply == R"({"type":"flushed","id":1,"accepted":0,"rejected":0,"last_error":null})");
  }

  TEST_CASE("stops reading while the assembler holds the maximum batches in flight") {
    Server server(/*holding=*/true);
    Client c(server.path);
    constexpr int lines = 3000;
    std::thread writer([&] {
      for (int i = 1; i <= lines; ++i) c.send(span("1"));  // one write per line: many reads
      c.send(R"({"type":"flush","id":9})" "\n");
    });
    REQUIRE(server.sink.wait_held(8, Clock::now() + 10s));
    std::optional<std::string> reply;
    std::thread reader([&] { reply = c.read_line(); });
    // Apply whatever is held until the flush is answered.
    CHECK(server.wait_for([&] {
      server.sink.release();
      return server.counters.flushes_answered.load() == 1;
    }));
    writer.join();
    reader.join();
    REQUIRE(reply.has_value());
    CHECK(reply->find(R"("accepted":3000)") != std::string::npos);
    CHECK(server.sink.max_held() == 8);
  }

  TEST_CASE("drops and counts a partial line when the peer closes mid-line") {
    Server server;
    Client c(server.path);
    c.send(span("1") + R"({"type":"span","trace_id)");
    c.close();
    REQUIRE(server.wait_for([&] { return server.counters.partial_lines_dropped.load() == 1; }));
    REQUIRE(server.wait_for([&] { return server.counters.events_accepted.load() == 1; }));
    CHECK(server.counters.lines_received.load() == 1);
  }

  TEST_CASE("rejects an over-long line by reason and keeps the connection") {
    Server server;  // max line 4096
    Client c(server.path);
    c.send(std::string(10000, 'x') + "\n" + span("1") + R"({"type":"flush","id":2})" "\n");
    auto reply = c.read_line();
    REQUIRE(reply.has_value());
    CHECK(*reply == R"({"type":"flushed","id":2,"accepted":1,"rejected":1,"last_error":"line_too_long"})");
    CHECK(server.counters.rejected[static_cast<std::size_t>(protocol::RejectReason::line_too_long)].load() == 1);
  }

  TEST_CASE("closes connections over the cap at once and counts them") {
    Server server(false, /*max_connections=*/1);
    Client first(server.path);
    first.send(R"({"type":"flush","id":1})" "\n");
    REQUIRE(first.read_line().has_value());  // the first is being served
    Client second(server.path);
    CHECK_FALSE(second.read_line().has_value());  // EOF: closed by the daemon
    CHECK(server.counters.connections_refused.load() == 1);
    CHECK(server.counters.connections_accepted.load() == 1);
  }

  TEST_CASE("at stop, reads what the agent already sent, then ends the connection and removes the socket") {
    Server server;
    Client c(server.path);
    c.send(span("1") + span("2") + span("3"));
    REQUIRE(server.wait_for([&] { return server.counters.bytes_received.load() > 0; }));
    c.send(span("4"));  // still in flight when stop is asked
    server.listener->stop(Clock::now() + 2s);
    REQUIRE(server.wait_for([&] { return server.ctx.readers_active.load() == 0; }));
    CHECK(server.sink.events() == 4);
    CHECK_FALSE(std::filesystem::exists(server.path));
  }
}
