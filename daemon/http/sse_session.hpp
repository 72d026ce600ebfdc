#pragma once
// GET /api/stream on the connection's side: the response head, then the subscriber's
// events as they come, a keepalive comment when idle, until the subscriber is dropped or
// closed (shutdown), the peer goes away or a write times out. The body never ends
// (Connection: close framing). Runs on the connection's strand, inside its coroutine.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/http/query.hpp"
#include "daemon/http/stream_hub.hpp"
#include "daemon/net.hpp"

namespace tracecol::http {

inline constexpr std::chrono::seconds sse_keepalive_interval{15};

/**
 * The response head and the stream's first comment, ": tracecol stream\n\n"; extra_headers
 * (CORS, from the access policy) go in the head.
 */
std::string sse_preamble(const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
/** ": keepalive\n\n", shared. */
const SseEvent& sse_keepalive();

/**
 * The query of a request the server should stream: GET /api/stream with a valid query
 * while a hub exists and the server is not stopping. nullopt otherwise: dispatch() then
 * answers it (400 for a bad query, 405, 503).
 */
std::optional<StreamQuery> stream_query_of(const boost::beast::http::request<boost::beast::http::string_body>& req,
                                           const StreamHub* hub, bool stopping);

namespace detail {

/** What the hub's wake-ups reach: lives as long as the session or a pending wake-up. */
template <class SessionPtr>
struct SseWaker {
  explicit SseWaker(SessionPtr s) : session(std::move(s)), timer(session->stream.get_executor()) {}
  SessionPtr session;
  net::steady_timer timer;            // the session waits on it between events
  std::weak_ptr<StreamSubscriber> sub;
  bool done = false;                  // strand only: the session has ended
};

template <class SessionPtr>
void on_wake(const std::shared_ptr<SseWaker<SessionPtr>>& w) {
  if (w->done) return;
  auto sub = w->sub.lock();
  if (!sub) return;
  sub->rearm();
  w->timer.cancel();
  // Dropped or closed: a write blocked on a peer that stopped reading must end too.
  if (sub->state() != StreamSubscriber::State::open) w->session->stream.cancel();
}

}  // namespace detail

/**
 * Streams to s->stream (a beast::basic_stream) until the subscription ends. write_timeout
 * bounds each write; a peer that lets it pass is counted as a slow reader.
 */
template <class SessionPtr>
net::awaitable<void> run_sse(SessionPtr s, StreamHub& hub, StreamQuery query, std::chrono::milliseconds write_timeout,
                             std::vector<std::pair<std::string, std::string>> extra_headers = {}) {
  using Clock = std::chrono::steady_clock;
  auto waker = std::make_shared<detail::SseWaker<SessionPtr>>(s);
  const auto ex = waker->timer.get_executor();
  std::weak_ptr<detail::SseWaker<SessionPtr>> weak = waker;
  auto sub = hub.subscribe(std::move(query), [weak, ex] {
    if (auto w = weak.lock()) net::post(ex, [w] { detail::on_wake(w); });
  });
  waker->sub = sub;

  const std::string preamble = sse_preamble(extra_headers);
  s->stream.expires_after(write_timeout);
  auto [hec, hn] = co_await net::async_write(s->stream, net::buffer(preamble), net::as_tuple(net::use_awaitable));
  s->stream.expires_never();
  auto last_write = Clock::now();
  bool ok = !hec;
  std::vector<net::const_buffer> buffers;
  while (ok && sub->state() == StreamSubscriber::State::open) {
    std::vector<SseEvent> batch = sub->take();
    if (batch.empty() && Clock::now() - last_write >= sse_keepalive_interval) batch.push_back(sse_keepalive());
    if (batch.empty()) {
      waker->timer.expires_at(last_write + sse_keepalive_interval);
      auto [wec] = co_await waker->timer.async_wait(net::as_tuple(net::use_awaitable));
      (void)wec;  // woken early (events, close) or the keepalive is due: the loop looks
      continue;
    }
    buffers.clear();
    for (const auto& e : batch) buffers.push_back(net::buffer(*e));
    s->stream.expires_after(write_timeout);
    auto [ec, n] = co_await net::async_write(s->stream, buffers, net::as_tuple(net::use_awaitable));
    s->stream.expires_never();
    if (ec) {
      // A write the peer let time out is a slow reader too (a drop already counted itself).
      if (ec == boost::beast::error::timeout && sub->state() == StreamSubscriber::State::open) hub.count_slow_reader();
      ok = false;
    }
    last_write = Clock::now();
  }
  waker->done = true;
  hub.unsubscribe(sub);
  sub->close();
}

}  // namespace tracecol::http
