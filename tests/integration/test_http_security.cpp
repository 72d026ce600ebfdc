// The HTTP API's access policy on the real daemon (docs/security.md, "HTTP"): the warning
// for a non-loopback bind without a token, --http-token-file bearer auth and the UI's
// cookie sign-in, the Host allowlist, Sec-Fetch-Site and CORS. Refusals are counted.

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <memory>

#include "tests/integration/harness.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/integration/wire.hpp"
#include "tests/unit/http/prometheus_text.hpp"

using namespace tracecol::integration;
namespace prom = tracecol::test::prometheus;

namespace {

const std::string token = "7f3a9c0e5b21d4f8a6c3e1b9d7f5a2c4";
const std::string bearer = "Authorization: Bearer " + token + "\r\n";

std::string write_token(const TempDir& dir, const std::string& text, mode_t mode = 0600) {
  const std::string path = dir.file("token");
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

/** The port from "http listening on HOST:PORT" once it is logged; 0 at the deadline. */
int http_port(const Daemon& d, const std::string& host = "127.0.0.1") {
  int port = 0;
  const std::string marker = "http listening on " + host + ":";
  wait_until([&] {
    const std::string err = d.err();
    const std::size_t at = err.find(marker);
    if (at == std::string::npos || err.find('\n', at) == std::string::npos) return false;
    port = std::atoi(err.c_str() + at + marker.size());
    return port > 0;
  });
  return port;
}

/** One raw request head (and body) on a fresh connection; its answer. */
std::optional<HttpResponse> raw(int port, const std::string& head, const std::string& body = {}) {
  HttpClient c(port);
  REQUIRE(c.connected());
  if (!c.send(head + "\r\n" + body)) return std::nullopt;
  return c.read_response();
}

/** GET target with Host: localhost and the extra header lines given. */
int status_of(int port, const std::string& method, const std::string& target, const std::string& headers = {}) {
  auto r = raw(port, method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + headers +
                         (method == "POST" ? "Content-Length: 0\r\n" : ""));
  return r ? r->status : 0;
}

double denied(int port, const std::string& reason) {
  HttpClient c(port);
  auto r = c.request("GET", "/metrics", {}, bearer);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const auto x = prom::parse(r->body);
  CHECK(x.errors.empty());
  return x.value("tracecol_http_access_denied_total", {{"reason", reason}}).value_or(-1);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_SUITE("http security") {
TEST_CASE("bound beyond loopback without a token the daemon warns loudly, in the banner too") {
  TempDir dir;
  {
    Daemon d(dir, dir.file("s.sock"), {"--http-listen", "0.0.0.0:0"});
    REQUIRE(d.wait_ready());
    REQUIRE(http_port(d, "0.0.0.0") > 0);
    REQUIRE(wait_until([&] { return d.err().find("tracecol ") != std::string::npos && count(d.err(), "WITHOUT authentication") >= 2; }));
    const std::string err = d.err();
    CHECK(err.find(" warn  WARNING: the HTTP API on 0.0.0.0:") != std::string::npos);
    CHECK(err.find("listening on unix:" + dir.file("s.sock")) != std::string::npos);
    // The banner line itself carries the warning, at warn.
    const std::size_t banner = err.find("listening on unix:");
    const std::size_t line_start = err.rfind('\n', banner) + 1;
    const std::string line = err.substr(line_start, err.find('\n', banner) - line_start);
    CHECK(line.find(" warn ") != std::string::npos);
    CHECK(line.find("WITHOUT authentication") != std::string::npos);
  }
  {
    TempDir dir2;
    Daemon d(dir2, dir2.file("s.sock"), {"--http-listen", "0.0.0.0:0", "--http-token-file", write_token(dir2, token)});
    REQUIRE(d.wait_ready());
    REQUIRE(http_port(d, "0.0.0.0") > 0);
    CHECK(d.err().find("bearer token required") != std::string::npos);
    CHECK(d.err().find("WITHOUT authentication") == std::string::npos);
  }
  {
    TempDir dir3;
    HttpDaemon h(dir3, {});
    CHECK(h.daemon.err().find("WITHOUT authentication") == std::string::npos);
    CHECK(h.daemon.err().find("(no authentication)") != std::string::npos);
  }
}

TEST_CASE("with --http-token-file every route but /healthz needs the bearer token") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-token-file", write_token(dir, token + "\n")});
  CHECK(status_of(h.port, "GET", "/healthz") == 200);
  CHECK(status_of(h.port, "GET", "/readyz") == 401);
  {
    auto ready = raw(h.port, "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n");
    REQUIRE(ready);
    CHECK(ready->status == 200);  // a readiness probe that sends the token (httpHeaders)
  }

  auto r = raw(h.port, "GET /api/traces HTTP/1.1\r\nHost: localhost\r\n");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->headers["www-authenticate"] == "Bearer realm=\"tracecol\"");
  CHECK(r->headers["content-type"] == "application/json");
  CHECK(r->body.find("{\"error\":") == 0);

  const std::pair<const char*, const char*> routes[] = {
      {"GET", "/api/traces"}, {"GET", "/api/traces/00000000000000000000000000000001"}, {"GET", "/metrics"},
      {"GET", "/api/stream"}, {"POST", "/api/spans"}, {"POST", "/v1/traces"}, {"GET", "/"},
      {"GET", "/ui/app.js"},  {"GET", "/api/runs/r"}, {"GET", "/nowhere"}};
  for (const auto& [method, target] : routes) {
    CAPTURE(target);
    CHECK(status_of(h.port, method, target) == 401);
    CHECK(status_of(h.port, method, target, "Authorization: Bearer wrong-" + token + "\r\n") == 401);
    CHECK(status_of(h.port, method, target, "Authorization: Basic " + token + "\r\n") == 401);
    CHECK(status_of(h.port, method, target, bearer) != 401);
  }
  CHECK(status_of(h.port, "GET", "/api/traces", bearer) == 200);
  CHECK(status_of(h.port, "GET", "/", bearer) == 200);

  // The stream answers its head with the token.
  auto s = raw(h.port, "GET /api/stream HTTP/1.1\r\nHost: localhost\r\n" + bearer);
  REQUIRE(s);
  CHECK(s->status == 200);
  CHECK(s->headers["content-type"] == "text/event-stream");

  // POSTed lines with the token are applied.
  const std::string line = span_line(SpanSpec("a1", "1"));
  auto p = raw(h.port,
               "POST /api/spans HTTP/1.1\r\nHost: localhost\r\n" + bearer +
                   "Content-Length: " + std::to_string(line.size()) + "\r\n",
               line);
  REQUIRE(p);
  CHECK(p->status == 200);
  CHECK(p->body.find("\"accepted\":1") != std::string::npos);

  CHECK(denied(h.port, "missing_token") == 12);  // /readyz, the first request and ten routes
  CHECK(denied(h.port, "bad_token") == 20);
  CHECK(h.daemon.err().find(token) == std::string::npos);  // never logged
  CHECK(h.daemon.err().find("refused GET traces from 127.0.0.1: missing_token") != std::string::npos);
}

TEST_CASE("an unauthenticated body is never read: the answer is 401 and the connection closes") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-token-file", write_token(dir, token)});
  HttpClient c(h.port);
  REQUIRE(c.connected());
  // A body announced but not sent: a server that waited for it would time out instead.
  REQUIRE(c.send("POST /api/spans HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n"));
  auto r = c.read_response(10s);
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->headers["connection"] == "close");
  CHECK(c.wait_eof(10s));
}

TEST_CASE("the UI signs in once with ?token=: an HttpOnly SameSite=Strict cookie then opens the API and the stream") {
  TempDir dir;
  // The token file may also be named by TRACECOL_HTTP_TOKEN_FILE, like every flag.
  Daemon d(dir, dir.file("s.sock"), {"--http-listen", "127.0.0.1:0"},
           {"TRACECOL_HTTP_TOKEN_FILE=" + write_token(dir, token, 0640)});
  REQUIRE(d.wait_ready());
  const int port = http_port(d);
  REQUIRE(port > 0);
  CHECK(d.err().find("accessible to group or others (mode 0640)") != std::string::npos);

  CHECK(status_of(port, "GET", "/?token=wrong") == 401);
  auto r = raw(port, "GET /?token=" + token + " HTTP/1.1\r\nHost: localhost:" + std::to_string(port) + "\r\n");
  REQUIRE(r);
  CHECK(r->status == 303);
  CHECK(r->headers["location"] == "/");
  const std::string cookie_name = "tracecol_token_" + std::to_string(port);
  CHECK(r->headers["set-cookie"] == cookie_name + "=" + token + "; Path=/; HttpOnly; SameSite=Strict");
  CHECK(r->headers["cache-control"] == "no-store");

  const std::string cookie = "Cookie: theme=x; " + cookie_name + "=" + token + "\r\n";
  CHECK(status_of(port, "GET", "/", cookie) == 200);
  CHECK(status_of(port, "GET", "/api/traces", cookie) == 200);
  CHECK(status_of(port, "GET", "/api/traces", "Cookie: " + cookie_name + "=stale\r\n") == 401);
  auto s = raw(port, "GET /api/stream HTTP/1.1\r\nHost: localhost\r\n" + cookie);
  REQUIRE(s);
  CHECK(s->status == 200);
  // ?token= is a sign-in for the UI only, never a credential on the API.
  CHECK(status_of(port, "GET", "/api/traces?token=" + token) == 401);
  CHECK(d.err().find(token) == std::string::npos);
}

TEST_CASE("an empty or malformed token file stops the daemon at start with a clear message") {
  for (const std::string& bad : {std::string(""), std::string("\n"), std::string("two words")}) {
    TempDir dir;
    Daemon d(dir, dir.file("s.sock"), {"--http-listen", "127.0.0.1:0", "--http-token-file", write_token(dir, bad)});
    auto status = d.wait_exit();
    REQUIRE(status);
    CHECK(exit_code(*status) != 0);
    CHECK(d.err().find("--http-token-file") != std::string::npos);
  }
}

TEST_CASE("the Host allowlist refuses other names (DNS rebinding) but never the probes") {
  TempDir dir;
  HttpDaemon h(dir, {"--http-allowed-host", "tracecol.internal"});
  const std::string p = std::to_string(h.port);
  auto with_host = [&](const std::string& host, const std::string& target = "/api/traces") {
    auto r = raw(h.port, "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n");
    return r ? r->status : 0;
  };
  for (const std::string& ok : {std::string("localhost"), "localhost:" + p, "127.0.0.1:" + p, "[::1]:" + p, "10.0.0.7:" + p,
                               "tracecol.internal:" + p, std::string("TRACECOL.internal")}) {
    CAPTURE(ok);
    CHECK(with_host(ok) == 200);
  }
  auto r = raw(h.port, "GET /api/traces HTTP/1.1\r\nHost: rebind.attacker.example:" + p + "\r\n");
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->body.find("{\"error\":\"host not allowed") == 0);
  CHECK(with_host("localhost.attacker.example") == 403);
  CHECK(with_host("rebind.attacker.example", "/") == 403);
  CHECK(with_host("rebind.attacker.example", "/healthz") == 200);  // Kubernetes probes send the pod IP or a name
  CHECK(with_host("rebind.attacker.example", "/readyz") == 403);
  CHECK(with_host("10.1.2.3", "/readyz") == 200);  // the kubelet's Host: the pod IP
  CHECK(denied(h.port, "host") == 4);
}

TEST_CASE("Sec-Fetch-Site: cross-site is refused, same-origin, same-site and none are served") {
  TempDir dir;
  HttpDaemon h(dir, {});
  for (const char* site : {"same-origin", "same-site", "none"}) {
    CAPTURE(site);
    CHECK(status_of(h.port, "GET", "/api/traces", std::string("Sec-Fetch-Site: ") + site + "\r\n") == 200);
  }
  auto r = raw(h.port, "GET /api/traces HTTP/1.1\r\nHost: localhost\r\nSec-Fetch-Site: cross-site\r\n");
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->body.find("{\"error\":") == 0);
  CHECK(status_of(h.port, "POST", "/api/spans", "Sec-Fetch-Site: cross-site\r\n") == 403);
  CHECK(denied(h.port, "cross_site") == 2);
}

TEST_CASE("no CORS headers unless --http-cors-origin names the origin, which is then reflected exactly") {
  TempDir dir;
  {
    HttpDaemon h(dir, {});
    auto r = raw(h.port, "GET /api/traces HTTP/1.1\r\nHost: localhost\r\nOrigin: https://ui.example\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    for (const auto& [name, value] : r->headers) CHECK(name.find("access-control-") != 0);
    CHECK(r->headers.count("vary") == 0);
  }
  TempDir dir2;
  HttpDaemon h(dir2, {"--http-cors-origin", "https://ui.example", "--http-token-file", write_token(dir2, token)});
  auto r = raw(h.port, "GET /api/traces HTTP/1.1\r\nHost: localhost\r\nOrigin: https://ui.example\r\n"
                       "Sec-Fetch-Site: cross-site\r\n" + bearer);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->headers["access-control-allow-origin"] == "https://ui.example");
  CHECK(r->headers["vary"] == "Origin");
  CHECK(r->headers.count("access-control-allow-credentials") == 0);

  // A 401 is readable by the listed origin too (it learns to send the token).
  auto u = raw(h.port, "GET /api/traces HTTP/1.1\r\nHost: localhost\r\nOrigin: https://ui.example\r\n");
  REQUIRE(u);
  CHECK(u->status == 401);
  CHECK(u->headers["access-control-allow-origin"] == "https://ui.example");

  auto other = raw(h.port, "GET /api/traces HTTP/1.1\r\nHost: localhost\r\nOrigin: https://ui.example.evil\r\n" + bearer);
  REQUIRE(other);
  CHECK(other->status == 200);  // same-site or a tool: served, but a browser may not read it
  CHECK(other->headers.count("access-control-allow-origin") == 0);

  // The preflight needs no token; its answer lists the methods and headers.
  auto pre = raw(h.port, "OPTIONS /api/spans HTTP/1.1\r\nHost: localhost\r\nOrigin: https://ui.example\r\n"
                         "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n");
  REQUIRE(pre);
  CHECK(pre->status == 204);
  CHECK(pre->headers["access-control-allow-origin"] == "https://ui.example");
  CHECK(pre->headers["access-control-allow-methods"] == "GET, HEAD, POST");
  CHECK(pre->headers["access-control-allow-headers"] == "Authorization, Content-Type, Content-Encoding");
  CHECK(pre->headers["vary"] == "Origin");
  auto bad = raw(h.port, "OPTIONS /api/spans HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\n"
                         "Access-Control-Request-Method: POST\r\n");
  REQUIRE(bad);
  CHECK(bad->status == 403);
  CHECK(bad->headers.count("access-control-allow-origin") == 0);

  // The stream's head carries them as well.
  auto s = raw(h.port, "GET /api/stream HTTP/1.1\r\nHost: localhost\r\nOrigin: https://ui.example\r\n" + bearer);
  REQUIRE(s);
  CHECK(s->status == 200);
  CHECK(s->headers["access-control-allow-origin"] == "https://ui.example");
  CHECK(denied(h.port, "origin") == 1);
}

TEST_CASE("a malformed --http-cors-origin stops the daemon at start") {
  for (const char* bad : {"*", "https://ui.example/app", "ui.example"}) {
    TempDir dir;
    Daemon d(dir, dir.file("s.sock"), {"--http-listen", "127.0.0.1:0", "--http-cors-origin", bad});
    auto status = d.wait_exit();
    REQUIRE(status);
    CHECK(exit_code(*status) != 0);
    CHECK(d.err().find("--http-cors-origin") != std::string::npos);
  }
}
}
