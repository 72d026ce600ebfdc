// http_stream and http_get against a small in-test HTTP server (TCP and Unix socket):
// the SSE body reaches the parser whole, errors and silence end the stream.

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "client/cli/http_client.hpp"
#include "client/cli/sse_parser.hpp"

namespace net = boost::asio;
using namespace tracecol::cli;

namespace {

/** Accepts one connection, records the request head, writes each piece, then closes. */
class OneShotServer {
 public:
  explicit OneShotServer(std::vector<std::string> pieces, std::string unix_path = {}, bool hold_open = false)
      : pieces_(std::move(pieces)), unix_path_(std::move(unix_path)), hold_open_(hold_open) {
    if (unix_path_.empty()) {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      socklen_t len = sizeof addr;
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
    } else {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, unix_path_.c_str(), sizeof addr.sun_path - 1);
      ::unlink(unix_path_.c_str());
      REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
  }

  std::string endpoint() const { return unix_path_.empty() ? "127.0.0.1:" + std::to_string(port_) : "unix:" + unix_path_; }
  std::string request() const { return request_; }  // read after the client finished

 private:
  void serve() {
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[4096];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      request_.append(buf, static_cast<std::size_t>(n));
    }
    for (const std::string& piece : pieces_) {
      if (::send(c, piece.data(), piece.size(), MSG_NOSIGNAL) < 0) break;
    }
    if (hold_open_) {
      while (::read(c, buf, sizeof buf) > 0) {}  // until the client gives up
    }
    ::close(c);
  }

  std::vector<std::string> pieces_;
  std::string unix_path_;
  bool hold_open_;
  int fd_ = -1;
  int port_ = 0;
  std::string request_;
  std::thread thread_;
};

HttpEndpoint endpoint_of(const OneShotServer& s) {
  std::string error;
  auto ep = parse_http_endpoint(s.endpoint(), error);
  REQUIRE(ep);
  return *ep;
}

struct StreamRun {
  StreamEnd end;
  std::vector<SseEvent> events;
};

StreamRun run_stream(const HttpEndpoint& ep, const std::string& target, StreamOptions options = {}) {
  net::io_context ioc;
  StreamRun run;
  SseParser parser;
  auto body = [&]() -> net::awaitable<void> {
    run.end = co_await http_stream(ep, target, options,
                                   [&](std::string_view bytes) { return parser.feed(bytes, run.events); });
  };
  net::co_spawn(ioc, body(), net::detached);
  ioc.run();
  return run;
}

const std::string sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";

}  // namespace

TEST_SUITE("cli http stream") {
TEST_CASE("streams a close-framed SSE body over TCP into whole events, cut anywhere") {
  const std::string trace = "{\"trace_id\":\"00000000000000000000000000000abc\",\"spans\":[]}";
  OneShotServer server({sse_head + ": tracecol", " stream\n\nevent: tr", "ace\ndata: " + trace.substr(0, 10),
                        trace.substr(10) + "\n", "\n: keepalive\n\nevent: span\ndata: {}\n\n"});
  const auto run = run_stream(endpoint_of(server), "/api/stream?run_id=r%201&events=trace");
  CHECK(run.end.connected);
  CHECK(run.end.status == 200);
  CHECK(run.end.reason == "the server closed the stream");
  REQUIRE(run.events.size() == 2);
  CHECK(run.events[0].type == "trace");
  CHECK(run.events[0].data == trace);
  CHECK(run.events[1].type == "span");
  CHECK(server.request().starts_with("GET /api/stream?run_id=r%201&events=trace HTTP/1.1\r\n"));
  CHECK(server.request().find("Accept: text/event-stream") != std::string::npos);
}

TEST_CASE("streams a chunked SSE body over a Unix socket") {
  OneShotServer server({"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                        "7\r\nevent: \r\n", "d\r\ntrace\ndata: 1\r\n", "2\r\n\n\n\r\n0\r\n\r\n"},
                       "/tmp/tracectl-unit-" + std::to_string(::getpid()) + ".sock");
  const auto run = run_stream(endpoint_of(server), "/api/stream");
  CHECK(run.end.connected);
  REQUIRE(run.events.size() == 1);
  CHECK(run.events[0].type == "trace");
  CHECK(run.events[0].data == "1");
}

TEST_CASE("reports a non-200 answer with its status and body") {
  OneShotServer server({"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n"
                        "{\"error\":\"not found\"}"});
  const auto run = run_stream(endpoint_of(server), "/api/stream");
  CHECK_FALSE(run.end.connected);
  CHECK(run.end.status == 404);
  CHECK(run.end.body == "{\"error\":\"not found\"}");
  CHECK(run.events.empty());
}

TEST_CASE("ends a silent stream at the idle timeout instead of waiting forever") {
  OneShotServer server({sse_head + ": tracecol stream\n\n"}, {}, true);
  StreamOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  const auto run = run_stream(endpoint_of(server), "/api/stream", options);
  CHECK(run.end.connected);
  CHECK(run.end.reason.find("no data for 200 ms") != std::string::npos);
}

TEST_CASE("says it cannot connect when nothing listens") {
  std::string error;
  auto ep = parse_http_endpoint("unix:/tmp/tracectl-unit-nobody-listens.sock", error);
  REQUIRE(ep);
  const auto run = run_stream(*ep, "/api/stream");
  CHECK_FALSE(run.end.connected);
  CHECK(run.end.status == 0);
  CHECK(run.end.reason.find("cannot connect") != std::string::npos);
  const HttpResult r = http_get(*ep, "/api/traces", std::chrono::milliseconds(2000));
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("cannot connect") != std::string::npos);
}

TEST_CASE("http_get reads a whole answer with its status and content type") {
  OneShotServer server({"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhe", "llo"});
  const HttpResult r = http_get(endpoint_of(server), "/api/traces/1/tree", std::chrono::milliseconds(10000));
  REQUIRE(r.ok);
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/plain");
  CHECK(r.body == "hello");
}

TEST_CASE("http_get gives up at its timeout when the server never answers") {
  OneShotServer server({}, {}, true);
  const HttpResult r = http_get(endpoint_of(server), "/api/traces", std::chrono::milliseconds(200));
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("timed out") != std::string::npos);
}

TEST_CASE("parses --http endpoints and refuses malformed ones") {
  std::string error;
  auto a = parse_http_endpoint("127.0.0.1:4318", error);
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == "4318");
  auto b = parse_http_endpoint("[::1]:80", error);
  REQUIRE(b);
  CHECK(b->host == "::1");
  auto c = parse_http_endpoint("unix:/run/t.sock", error);
  REQUIRE(c);
  CHECK(c->is_unix);
  CHECK(c->path == "/run/t.sock");
  auto d = parse_http_endpoint("http://localhost:9000/", error);
  REQUIRE(d);
  CHECK(d->host == "localhost");
  CHECK(d->port == "9000");
  CHECK_FALSE(parse_http_endpoint("localhost:", error));
  CHECK_FALSE(parse_http_endpoint("localhost:99999", error));
  CHECK_FALSE(parse_http_endpoint("unix:", error));
  CHECK_FALSE(parse_http_endpoint("host:12x", error));
  CHECK(url_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
}
}
