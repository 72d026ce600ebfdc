#include "daemon/http/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "daemon/http/api.hpp"
#include "daemon/http/answer_write.hpp"
#include "daemon/http/dispatch.hpp"
#include "daemon/http/listen_address.hpp"
#include "daemon/http/probe_reserve.hpp"
#include "daemon/http/read_head.hpp"
#include "daemon/http/request_head.hpp"
#include "daemon/http/router.hpp"
#include "daemon/http/sse_session.hpp"
#include "daemon/ingest/uds_listener.hpp"
#include "daemon/log.hpp"

namespace tracecol::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

struct SessionBase {
  virtual ~SessionBase() = default;
  /** Cancels the connection's read when it waits between requests. Any thread. */
  virtual void close_if_idle() = 0;
};

struct HttpServer::State {
  State(net::io_context& io_, ServerOptions o, ServerContext c)
      : io(io_),
        options(std::move(o)),
        context(std::move(c)),
        accept_strand(net::make_strand(io_)),
        reserve(options.probe_reserve) {}

  net::io_context& io;
  ServerOptions options;
  ServerContext context;
  net::strand<net::io_context::executor_type> accept_strand;
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<local_stream::acceptor> unix_acceptor;
  std::string unix_path;
  RequestCounters requests;
  std::atomic<bool> stopping{false};  // draining: every route but /healthz answers 503, one request a connection
  std::atomic<bool> closing{false};   // the acceptors are closed: the drain is over
  ServerCounters counters;  // counters.connections_active is also what the connection cap counts (not the reserve)
  std::mutex mutex;
  std::uint64_t next_session = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;
  ProbeReserve reserve;  // the connections past the cap, there to answer a probe (under mutex)
  std::optional<AccessPolicy> policy;  // set by open(), once the listener (and its port) is known
};

namespace {

using State = HttpServer::State;

daemon::RateLimiter access_log(2);
// Out of file descriptors, every accept fails: one line a second, with the count suppressed.
daemon::RateLimiter accept_error_log(1);

// One session type for TCP and Unix connections: the request loop, the SSE stream and the
// answer writer are compiled once (these coroutines are the slowest code in the tree to build).
using AnyStream = net::generic::stream_protocol;

struct Session final : SessionBase, std::enable_shared_from_this<Session> {
  Session(AnyStream::socket socket, bool is_tcp)
      : stream(std::move(socket)), tcp(is_tcp), deadline(stream.get_executor()) {}
  void close_if_idle() override {
    net::post(stream.get_executor(), [self = this->shared_from_this()] {
      if (self->idle) self->stream.cancel();
    });
  }
  beast::basic_stream<AnyStream> stream;
  const bool tcp;    // a TCP peer (else a Unix socket one)
  bool idle = true;  // touched only on the session's strand
  // The timer of the step arm_deadline bounds (an answer's write, a reserve connection's head
  // read), and its generation: bumped when a step is armed and when it ends. Strand only.
  net::steady_timer deadline;
  std::uint64_t deadline_generation = 0;
  bool write_timed_out = false;
};

/** Drops the session from the registry and the connection count (or the reserve) when its coroutine ends. */
struct SessionExit {
  std::shared_ptr<State> st;
  std::uint64_t id;
  bool probe_only;
  ~SessionExit() {
    std::lock_guard lock(st->mutex);
    st->sessions.erase(id);
    if (probe_only) st->reserve.leave(id);
    else st->counters.connections_active.fetch_sub(1);
  }
};

/** A liveness or readiness probe with no body: what a connection past the cap may ask. */
bool is_probe(const bhttp::request_parser<bhttp::string_body>& parser) {
  const auto& head = parser.get();
  auto target = parse_target(std::string_view(head.target().data(), head.target().size()));
  if (!target.value || !parser.is_done()) return false;
  const RouteMatch m = route(std::string_view(head.method_string().data(), head.method_string().size()),
                             target.value->raw_path);
  // /metrics too: a scrape is how the operator sees the connections filling the cap.
  return (m.route == Route::healthz || m.route == Route::readyz || m.route == Route::metrics) && m.method_allowed;
}

std::string_view view(boost::beast::string_view s) { return std::string_view(s.data(), s.size()); }

/** The peer's IP address, for a log line; "unix" on a Unix socket. */
std::string peer_address(const Session& s) {
  if (!s.tcp) return "unix";
  boost::system::error_code ec;
  const auto generic = s.stream.socket().remote_endpoint(ec);
  if (ec || generic.size() > sizeof(sockaddr_storage)) return "?";
  tcp::endpoint endpoint;
  std::memcpy(endpoint.data(), generic.data(), generic.size());
  endpoint.resize(generic.size());
  return endpoint.address().to_string();
}

/** The access policy's verdict on a request head; a refusal is counted and logged (rate-limited). */
AccessVerdict check_access(State& st, const Session& s, const bhttp::request<bhttp::string_body>& req) {
  auto target = parse_target(view(req.target()));
  AccessRequest a;
  a.method = view(req.method_string());
  if (target.value) {
    a.route = route(a.method, target.value->raw_path).route;
    a.token_param = target.value->param("token");
  }
  a.host = view(req[bhttp::field::host]);
  a.origin = view(req[bhttp::field::origin]);
  a.sec_fetch_site = view(req["Sec-Fetch-Site"]);
  a.authorization = view(req[bhttp::field::authorization]);
  a.cookie = view(req[bhttp::field::cookie]);
  a.access_control_request_method = view(req[bhttp::field::access_control_request_method]);
  AccessVerdict v = st.policy->check(a);
  if (v.refusal) {
    st.counters.access_denied[static_cast<std::size_t>(*v.refusal)].fetch_add(1, std::memory_order_relaxed);
    std::uint64_t suppressed = 0;
    if (access_log.allow(&suppressed)) {
      // The route's label, never the target: a ?token= must not reach the log.
      const std::string peer = peer_address(s);
      daemon::log(daemon::LogLevel::warn, "http: refused %.*s %.*s from %s: %.*s (%llu more suppressed)",
                  static_cast<int>(a.method.size()), a.method.data(), static_cast<int>(route_label(a.route).size()),
                  route_label(a.route).data(), peer.c_str(), static_cast<int>(to_string(*v.refusal).size()),
                  to_string(*v.refusal).data(), static_cast<unsigned long long>(suppressed));
    }
  }
  return v;
}

/**
 * One step of a session bounded by its own timer instead of beast's expiry, which closes
 * the socket on timeout: the step that starts now (an answer's write, or a reserve
 * connection's head read) gets `timeout`, then on_expiry(session) runs on the session's
 * strand, unless end_deadline() came first. A timer whose generation no longer matches
 * belongs to a step that is over.
 */
template <typename OnExpiry>
void arm_deadline(const std::shared_ptr<Session>& s, std::chrono::milliseconds timeout, OnExpiry on_expiry) {
  s->stream.expires_never();
  const std::uint64_t generation = ++s->deadline_generation;
  s->deadline.expires_after(timeout);
  s->deadline.async_wait([weak = std::weak_ptr<Session>(s), generation, on_expiry](boost::system::error_code ec) {
    auto session = weak.lock();
    if (ec || !session || session->deadline_generation != generation) return;
    on_expiry(*session);
  });
}

/** Ends the step arm_deadline bounded: a deadline already due must not touch the next one. */
void end_deadline(Session& s) {
  ++s.deadline_generation;
  s.deadline.cancel();
}

/**
 * Bounds the answer write that starts now. A reader too slow for the timeout is reset, not
 * closed: a graceful close would leave the kernel trickling the rest of the send buffer
 * (megabytes) to it long after we gave up. Beast's own timeout closes the socket before we
 * could set SO_LINGER, so the write runs on the session's timer instead; the linger syscall
 * is paid only by a connection that times out, not twice per answer (it was half of a
 * cached GET's system calls).
 */
void arm_write_deadline(const std::shared_ptr<Session>& s, std::chrono::milliseconds timeout) {
  arm_deadline(s, timeout, [](Session& session) {
    session.write_timed_out = true;
    boost::system::error_code ignored;
    auto& socket = session.stream.socket();
    if (session.tcp) socket.set_option(net::socket_base::linger(true, 0), ignored);  // close sends RST
    socket.close(ignored);
  });
}

/**
 * Bounds a reserve connection's head read (ProbeReserve) like an eviction: the read is
 * cancelled, the socket stays open for the 503. Beast's own timeout would close it first.
 */
void arm_probe_deadline(const std::shared_ptr<Session>& s, std::chrono::milliseconds timeout) {
  arm_deadline(s, timeout, [](Session& session) { session.stream.cancel(); });
}

/** Ends the write arm_write_deadline bounded; a timeout shows as beast's timeout error. */
boost::system::error_code end_write(Session& s, boost::system::error_code ec) {
  end_deadline(s);
  return s.write_timed_out ? boost::system::error_code(beast::error::timeout) : ec;
}

/** probe_only: a connection past the cap (ProbeReserve): one probe is served, anything else gets 503. */
net::awaitable<void> run_session(std::shared_ptr<State> st, std::shared_ptr<Session> s, std::uint64_t id,
                                 bool probe_only) {
  SessionExit exit{st, id, probe_only};
  beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    bhttp::request_parser<bhttp::string_body> parser;
    std::string_view label_of_request = "not_found";
    parser.header_limit(st->options.max_header);
    parser.body_limit(st->options.max_body);
    s->idle = true;
    // Draining: a new connection still gets its one answer (a probe's), a kept-alive one ends.
    if (st->stopping.load() && !first) break;
    if (probe_only) arm_probe_deadline(s, std::min(st->options.request_timeout, st->options.probe_head_timeout));
    else s->stream.expires_after(st->options.request_timeout);
    auto [ec, n] = co_await read_head(s->stream, buffer, parser, st->options.max_header);
    if (probe_only) end_deadline(*s);
    s->idle = false;
    // Past the cap: no head in time, evicted for a newer connection, or not a probe. Answered
    // 503 like a refusal at accept (unless the peer left), never read further.
    const bool peer_gone = ec == bhttp::error::end_of_stream || ec == net::error::connection_reset || ec == net::error::eof;
    const bool over_cap = probe_only && !st->stopping.load() && !peer_gone && (ec || !is_probe(parser));
    // Decided on the head alone: a refused client never gets its body read (nor buffered).
    std::optional<AccessVerdict> verdict;
    bool bad_head = false;  // its framing is not to be trusted: nothing after it on the wire is read
    if (!ec && !over_cap) {
      if (auto refused = check_request_head(parser.get())) {
        verdict.emplace().answer = std::move(*refused);
        bad_head = true;
      } else {
        verdict = check_access(*st, *s, parser.get());
      }
    }
    bool answered = verdict && verdict->answer;
    if (!ec && !answered && !over_cap && !parser.is_done() &&
        beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
      // curl sends "Expect: 100-continue" before bodies over 1 KiB and waits for this line. A
      // request its route would refuse (404, 405, 415, 503) is answered instead: the client
      // then never sends the body (the connection closes, the body being unread).
      DispatchContext dc{st->options, st->context, st->requests, st->stopping.load(), &st->counters};
      std::string_view head_label;
      if (auto refused = refuse_on_head(dc, parser.get(), head_label)) {
        verdict->answer = std::move(*refused);
        answered = true;
      } else {
        bhttp::response<bhttp::empty_body> go_on(bhttp::status::continue_, parser.get().version());
        auto [cec, cn] = co_await bhttp::async_write(s->stream, go_on, net::as_tuple(net::use_awaitable));
        if (cec) break;
      }
    }
    if (!ec && !answered && !over_cap && !parser.is_done()) {
      auto [bec, bn] = co_await bhttp::async_read(s->stream, buffer, parser, net::as_tuple(net::use_awaitable));
      ec = bec;
    }
    if (parser.is_header_done()) {
      // Label even a refused request (413) by its route, when its target parses.
      const auto& head = parser.get();
      auto target = parse_target(std::string_view(head.target().data(), head.target().size()));
      const std::string_view method(head.method_string().data(), head.method_string().size());
      if (target.value) label_of_request = route_label(route(method, target.value->raw_path).route);
    }
    if (ec == beast::error::timeout && !probe_only) st->counters.timeouts.fetch_add(1, std::memory_order_relaxed);
    Response res;
    std::string_view label = label_of_request;
    bool close = true;
    if (over_cap) {
      st->counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
      res = error_response(503, "too many connections");
    } else if (peer_gone || ec == beast::error::timeout || ec == net::error::operation_aborted) {
      break;
    } else if (ec == bhttp::error::body_limit) {
      res = error_response(413, "request body too large");
    } else if (ec == bhttp::error::header_limit) {
      res = error_response(431, "request headers too large");
    } else if (ec) {
      res = error_response(400, "malformed HTTP request");
    } else if (answered) {
      res = std::move(*verdict->answer);
      // An unread body is still on the wire: the connection cannot carry another request.
      close = bad_head || !parser.is_done() || !parser.get().keep_alive() || st->stopping.load();
    } else if (auto stream_query = stream_query_of(parser.get(), st->context.stream.get(), st->stopping.load())) {
      // GET /api/stream: the connection becomes the stream; its body ends only at close.
      st->requests.add("stream", 200);
      co_await run_sse(s, *st->context.stream, std::move(*stream_query), st->options.request_timeout,
                       std::move(verdict->headers));
      break;
    } else {
      DispatchContext dc{st->options, st->context, st->requests, st->stopping.load(), &st->counters};
      res = co_await dispatch(dc, parser.get(), label);
      for (auto& h : verdict->headers) res.headers.push_back(std::move(h));
      close = !parser.get().keep_alive() || st->stopping.load();
    }
    bhttp::response<bhttp::string_body> out;
    out.result(res.status);
    out.version(ec ? 11 : parser.get().version());
    out.set(bhttp::field::server, "tracecol");
    out.set(bhttp::field::content_type, res.content_type);
    if (!res.allow.empty()) out.set(bhttp::field::allow, res.allow);
    for (const auto& [name, value] : res.headers) out.set(name, value);
    out.body() = std::move(res.body);
    close = close || probe_only;  // a reserve slot serves one probe, then frees
    out.keep_alive(!close);
    out.prepare_payload();
    // HEAD: the GET answer's headers (Content-Length included), no body.
    if (!ec && parser.get().method() == bhttp::verb::head) out.body().clear();
    arm_write_deadline(s, st->options.request_timeout);
    auto [wec, wn] = co_await write_answer(s->stream, out, res.shared_body,
                                           !ec && parser.get().method() == bhttp::verb::head);
    wec = end_write(*s, wec);
    if (!over_cap) st->requests.add(label, res.status);  // a refused connection is counted as one, not a request
    if (wec == beast::error::timeout) st->counters.timeouts.fetch_add(1, std::memory_order_relaxed);
    if (wec || close) break;
  }
  beast::error_code ignored;
  s->stream.socket().shutdown(net::socket_base::shutdown_send, ignored);
}

template <class Socket>
net::awaitable<void> refuse_busy(Socket socket) {
  static const std::string busy = [] {
    const std::string body = "{\"error\":\"too many connections\"}";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }();
  // Best effort: the peer may be gone already; the socket closes either way.
  auto written = co_await net::async_write(socket, net::buffer(busy), net::as_tuple(net::use_awaitable));
  (void)written;
  boost::system::error_code ignored;
  socket.shutdown(Socket::shutdown_send, ignored);
}

template <class Protocol>
net::awaitable<void> accept_loop(std::shared_ptr<State> st, typename Protocol::acceptor& acceptor) {
  net::steady_timer backoff(st->accept_strand);
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(st->io), net::as_tuple(net::use_awaitable));
    if (st->closing.load() || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: wait rather than spin; the listener stays open.
      std::uint64_t suppressed = 0;
      if (accept_error_log.allow(&suppressed))
        daemon::log(daemon::LogLevel::warn, "http accept: %s; retrying every 100ms (%llu similar messages suppressed)",
                    ec.message().c_str(), static_cast<unsigned long long>(suppressed));
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    st->counters.connections_total.fetch_add(1, std::memory_order_relaxed);
    std::shared_ptr<Session> session;
    std::shared_ptr<SessionBase> evicted;
    std::uint64_t id = 0;
    bool probe_only = false;
    {
      std::lock_guard lock(st->mutex);
      id = st->next_session++;
      bool admitted = true;
      if (st->counters.connections_active.load() < st->options.max_connections) {
        st->counters.connections_active.fetch_add(1);
      } else {
        // Past the cap, a reserve slot still serves a probe (ServerOptions::probe_reserve).
        const ProbeReserve::Admission a = st->reserve.admit(id);
        if (a.evict) {
          if (auto it = st->sessions.find(*a.evict); it != st->sessions.end()) evicted = it->second.lock();
        }
        admitted = a.admitted;
        probe_only = true;
      }
      if (admitted) {
        session = std::make_shared<Session>(AnyStream::socket(std::move(socket)), std::is_same_v<Protocol, tcp>);
        st->sessions.emplace(id, session);
      }
    }
    if (evicted) evicted->close_if_idle();  // its head read ends; it answers 503 and goes
    if (!session) {
      st->counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
      auto ex = socket.get_executor();
      net::co_spawn(ex, refuse_busy(std::move(socket)), net::detached);
      continue;
    }
    auto ex = session->stream.get_executor();
    net::co_spawn(ex, run_session(st, std::move(session), id, probe_only), net::detached);
  }
}

}  // namespace

HttpServer::HttpServer(net::io_context& io, ServerOptions options, ServerContext context)
    : state_(std::make_shared<State>(io, std::move(options), std::move(context))) {}

HttpServer::~HttpServer() { stop(); }

std::optional<std::string> HttpServer::open() {
  State& st = *state_;
  boost::system::error_code ec;
  const std::string& listen = st.options.listen;
  if (listen.starts_with("unix:")) {
    st.unix_path = listen.substr(5);
    if (st.unix_path.empty() || st.unix_path.size() >= 108) return "--http-listen: the unix path must be 1..107 bytes";
    // Only a stale socket is removed: never a live one (another daemon's, or our --socket).
    if (auto refused = ingest::claim_socket_path(st.unix_path, "--http-listen")) return "http: " + *refused;
    auto& a = st.unix_acceptor.emplace(st.accept_strand);
    const local_stream::endpoint endpoint(st.unix_path);
    if (a.open(endpoint.protocol(), ec); !ec) a.bind(endpoint, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      st.unix_acceptor.reset();
      return "http: cannot listen on " + listen + ": " + ec.message();
    }
    AccessOptions access = st.options.access;
    access.check_host = false;  // no browser reaches a Unix socket
    st.policy.emplace(std::move(access));
    return std::nullopt;
  }
  const auto endpoint = parse_endpoint(listen);
  if (!endpoint) return "--http-listen: expected HOST:PORT, unix:PATH or off, got '" + listen + "'";
  auto& a = st.tcp_acceptor.emplace(st.accept_strand);
  if (a.open(endpoint->protocol(), ec); !ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(*endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    st.tcp_acceptor.reset();
    return "http: cannot listen on " + listen + ": " + ec.message();
  }
  AccessOptions access = st.options.access;
  // Cookies are scoped by host, not port: two daemons on one host must not overwrite each other's.
  access.cookie_name += "_" + std::to_string(a.local_endpoint(ec).port());
  st.policy.emplace(std::move(access));
  return std::nullopt;
}

std::string HttpServer::local_address() const {
  const State& st = *state_;
  if (st.unix_acceptor) return "unix:" + st.unix_path;
  if (!st.tcp_acceptor) return {};
  boost::system::error_code ec;
  const auto endpoint = st.tcp_acceptor->local_endpoint(ec);
  if (ec) return {};
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

bool HttpServer::exposed() const {
  const State& st = *state_;
  if (!st.tcp_acceptor) return false;
  boost::system::error_code ec;
  const auto endpoint = st.tcp_acceptor->local_endpoint(ec);
  return !ec && !endpoint.address().is_loopback();
}

void HttpServer::start() {
  auto st = state_;
  if (st->tcp_acceptor) net::co_spawn(st->accept_strand, accept_loop<tcp>(st, *st->tcp_acceptor), net::detached);
  if (st->unix_acceptor)
    net::co_spawn(st->accept_strand, accept_loop<local_stream>(st, *st->unix_acceptor), net::detached);
}

namespace {
/** Closes every connection waiting for its next request (one mid-request finishes it). */
void close_idle_sessions(State& st) {
  std::vector<std::shared_ptr<SessionBase>> open;
  {
    std::lock_guard lock(st.mutex);
    for (auto& [id, weak] : st.sessions) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  for (auto& s : open) s->close_if_idle();
}
}  // namespace

void HttpServer::begin_stop() {
  auto st = state_;
  if (st->stopping.exchange(true)) return;
  close_idle_sessions(*st);
  if (st->context.stream) st->context.stream->close_all();  // stream sessions end promptly
}

void HttpServer::stop() {
  auto st = state_;
  begin_stop();
  if (st->closing.exchange(true)) return;
  net::post(st->accept_strand, [st] {
    boost::system::error_code ignored;
    if (st->tcp_acceptor) st->tcp_acceptor->close(ignored);
    if (st->unix_acceptor) {
      st->unix_acceptor->close(ignored);
      ::unlink(st->unix_path.c_str());
    }
  });
  close_idle_sessions(*st);
}

}  // namespace tracecol::http
