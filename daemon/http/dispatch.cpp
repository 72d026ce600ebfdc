#include "daemon/http/dispatch.hpp"

#include <optional>
#include <string>

#include "daemon/http/gzip.hpp"
#include "daemon/http/otlp_ingest.hpp"
#include "daemon/http/router.hpp"
#include "daemon/http/ui/ui_response.hpp"
#include "daemon/log.hpp"
#include "protocol/lone_surrogates.hpp"
#include "protocol/otlp_decoder.hpp"

namespace tracecol::http {
namespace {

// POST /api/spans bodies with rejected lines: a few log lines a second, like the socket's.
daemon::RateLimiter spans_reject_log(5);

/** Hands the batch to the pipeline and resumes the caller on its own executor once applied. */
template <class Token>
auto async_submit(ingest::BatchSink& sink, ingest::IngestBatch batch, Token&& token) {
  return net::async_initiate<Token, void(std::vector<ingest::AppliedRejection>)>(
      [&sink](auto handler, ingest::IngestBatch b) {
        auto ex = net::get_associated_executor(handler);
        // BatchSink::Done is a std::function (copyable); the handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        sink.submit(std::move(b), [shared, ex](std::vector<ingest::AppliedRejection>&& rejected) {
          net::post(ex, [shared, rejected = std::move(rejected)]() mutable { (*shared)(std::move(rejected)); });
        });
      },
      token, std::move(batch));
}

std::string_view header(const Request& req, boost::beast::http::field name) {
  const auto value = req[name];
  return std::string_view(value.data(), value.size());
}

/** Every Content-Encoding field joined, as RFC 9110 §5.3 combines a repeated list field. */
std::string content_encoding(const Request& req) {
  std::string joined;
  const auto [first, last] = req.equal_range(boost::beast::http::field::content_encoding);
  for (auto f = first; f != last; ++f) {
    if (!joined.empty()) joined += ", ";
    joined.append(f->value().data(), f->value().size());
  }
  return joined;
}

struct BodyRefusal {
  OtlpRequestReject reason;  // for POST /v1/traces' counter
  Response answer;
};

/**
 * Inflates a gzip body into out under --http-max-body: the parser's limit saw only the
 * compressed size, the cap holds for what it expands to. Shared by both POST routes.
 */
std::optional<BodyRefusal> inflate_body(std::string_view body, std::size_t max_body, std::string& out) {
  InflateResult inflated = inflate_gzip(body, max_body);
  if (inflated.status == InflateStatus::too_large)
    return BodyRefusal{OtlpRequestReject::too_large, error_response(413, "decompressed request body too large")};
  if (inflated.status == InflateStatus::corrupt)
    return BodyRefusal{OtlpRequestReject::corrupt_gzip, error_response(400, "corrupt gzip body")};
  out = std::move(inflated.data);
  return std::nullopt;
}

net::awaitable<Response> post_spans(const DispatchContext& ctx, const Request& req) {
  // Content-Type is not checked (curl --data-binary sends a form type; agents often none);
  // Content-Encoding is, as on /v1/traces: a gzip body read as text was all invalid_json.
  // An unsupported Content-Encoding was refused on the head (refuse_on_head).
  std::string_view body = req.body();
  std::string inflated;
  if (body_coding(content_encoding(req)) == BodyCoding::gzip) {
    if (auto refused = inflate_body(body, ctx.options.max_body, inflated)) co_return std::move(refused->answer);
    body = inflated;
  }
  protocol::Decoder decoder(ctx.options.decode);
  if (ctx.context.monotonic_offset_ns) decoder.set_monotonic_offset_ns(ctx.context.monotonic_offset_ns->load());
  DecodedBody decoded = decode_body(body, decoder, ctx.options.max_line_bytes);
  std::vector<ingest::AppliedRejection> applied;
  if (!decoded.batch.events.empty()) {
    ingest::IngestBatch batch = std::move(decoded.batch);
    applied = co_await async_submit(ctx.context.sink, std::move(batch), net::use_awaitable);
  }
  if (auto* c = ctx.context.ingest) {
    const std::size_t events = decoded.event_lines.size();
    c->lines_received.fetch_add(decoded.lines, std::memory_order_relaxed);
    c->lines_blank.fetch_add(decoded.blank_lines, std::memory_order_relaxed);
    c->control_lines.fetch_add(decoded.control_lines, std::memory_order_relaxed);
    c->events_accepted.fetch_add(events - std::min(applied.size(), events), std::memory_order_relaxed);
    for (const auto& e : decoded.errors) {
      // The decoder's reasons come back as names; count them under the enum again.
      for (std::size_t i = 0; i < c->rejected.size(); ++i) {
        const auto reason = static_cast<protocol::RejectReason>(i);
        if (protocol::to_string(reason) == e.reason) c->reject(reason);
      }
    }
    for (const auto& a : applied) c->reject(a.reason);
  }
  // Like the socket's rejected lines: a log line says so (one per request, rate-limited).
  if (const std::size_t rejected = decoded.errors.size() + applied.size(); rejected > 0) {
    std::uint64_t suppressed = 0;
    if (spans_reject_log.allow(&suppressed)) {
      const std::string first =
          !decoded.errors.empty()
              ? "line " + std::to_string(decoded.errors.front().line) + " " + decoded.errors.front().reason
              : std::string(protocol::to_string(applied.front().reason));
      daemon::log(daemon::LogLevel::warn,
                  "POST /api/spans: %zu of %zu line(s) rejected, first: %s (%llu similar messages suppressed)", rejected,
                  decoded.lines, first.c_str(), static_cast<unsigned long long>(suppressed));
    }
  }
  co_return ingest_response(decoded, applied);
}

/** POST /v1/traces: OTLP JSON spans applied like a socket batch before the answer. */
net::awaitable<Response> post_otlp_traces(const DispatchContext& ctx, const Request& req) {
  ServerCounters* counters = ctx.counters;
  auto refuse = [counters](OtlpRequestReject reason, Response r) {
    if (counters) counters->reject_request(reason);
    return r;
  };
  // Content-Type and Content-Encoding were checked on the head (refuse_on_head).
  const bool gzip = body_coding(content_encoding(req)) == BodyCoding::gzip;
  std::string_view body = req.body();
  std::string inflated;
  if (gzip) {
    if (auto refused = inflate_body(body, ctx.options.max_body, inflated))
      co_return refuse(refused->reason, std::move(refused->answer));
    body = inflated;
  }
  // Half an emoji from a JS SDK must not refuse the whole request: U+FFFD stands in for it.
  if (protocol::may_hold_surrogate_escape(body)) {
    if (body.data() != inflated.data()) inflated.assign(body);
    const std::size_t replaced = protocol::replace_lone_surrogates(inflated);
    if (counters && replaced > 0) counters->otlp_lone_surrogates.fetch_add(replaced, std::memory_order_relaxed);
    body = inflated;
  }
  protocol::OtlpDecodeResult decoded = protocol::decode_otlp_request(body, ctx.options.decode);
  if (!decoded.ok)
    co_return refuse(OtlpRequestReject::invalid_body,
                     error_response(400, decoded.first_error.empty() ? "invalid OTLP JSON" : decoded.first_error));
  const std::size_t events = decoded.spans.size();
  std::vector<ingest::AppliedRejection> applied;
  if (events != 0) applied = co_await async_submit(ctx.context.sink, otlp_batch(decoded), net::use_awaitable);
  if (auto* c = ctx.context.ingest) {
    // Each submitted span counts as one received line, keeping received = accepted + rejected
    // + control; spans the OTLP decoder refused have no RejectReason and are only in the answer.
    c->lines_received.fetch_add(events, std::memory_order_relaxed);
    c->events_accepted.fetch_add(events - std::min(applied.size(), events), std::memory_order_relaxed);
    for (const auto& a : applied) c->reject(a.reason);
  }
  if (counters) {
    counters->otlp_spans_received.fetch_add(events + decoded.rejected, std::memory_order_relaxed);
    counters->otlp_spans_invalid.fetch_add(decoded.rejected, std::memory_order_relaxed);
    for (const auto& a : applied)
      counters->otlp_spans_refused[static_cast<std::size_t>(a.reason)].fetch_add(1, std::memory_order_relaxed);
  }
  co_return otlp_response(decoded, applied);
}

/** A request's head checked once: the refusal, or what dispatch goes on with. */
struct HeadCheck {
  std::optional<Response> refusal;
  Target target;
  RouteMatch match;
};

HeadCheck check_head(const DispatchContext& ctx, const Request& req, std::string_view& label) {
  HeadCheck out;
  auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  // A malformed target (.., NUL, bad escapes) matches no route: counted as not_found.
  label = route_label(Route::not_found);
  if (!target.value) {
    out.refusal = error_response(400, target.error);
    return out;
  }
  out.target = std::move(*target.value);
  out.match = route(std::string_view(req.method_string().data(), req.method_string().size()), out.target.raw_path);
  const RouteMatch& m = out.match;
  label = route_label(m.route);
  if (m.route == Route::not_found) {
    out.refusal = error_response(404, "not found");
  } else if (!m.method_allowed) {
    out.refusal = error_response(405, "method not allowed");
    out.refusal->allow = std::string(m.allow);
  } else if (m.route == Route::healthz || m.route == Route::metrics) {
    // Answer even while shutting down: liveness, and the drain's progress for a scrape.
  } else if (ctx.stopping) {
    out.refusal = error_response(503, "shutting down");
  } else if (m.route == Route::v1_traces) {
    bool gzip = false;
    out.refusal = check_otlp_headers(header(req, boost::beast::http::field::content_type), content_encoding(req), gzip);
    if (out.refusal && ctx.counters) ctx.counters->reject_request(OtlpRequestReject::unsupported_content);
  } else if (m.route == Route::spans && body_coding(content_encoding(req)) == BodyCoding::unsupported) {
    out.refusal = error_response(415, "unsupported Content-Encoding: only gzip is supported");
  }
  return out;
}

}  // namespace

std::optional<Response> refuse_on_head(const DispatchContext& ctx, const Request& req, std::string_view& label) {
  return check_head(ctx, req, label).refusal;
}

net::awaitable<Response> dispatch(const DispatchContext& ctx, const Request& req, std::string_view& label) {
  HeadCheck head = check_head(ctx, req, label);
  if (head.refusal) co_return std::move(*head.refusal);
  const RouteMatch& m = head.match;
  const Target& target = head.target;
  if (m.route == Route::healthz) co_return Response{200, "application/json", "{\"status\":\"ok\"}", {}, {}, {}};
  switch (m.route) {
    case Route::readyz: co_return Response{200, "application/json", "{\"status\":\"ready\"}", {}, {}, {}};
    case Route::traces: {
      auto q = parse_list_query(target);
      if (!q.value) co_return error_response(400, q.error);
      co_return list_traces(ctx.context.store, *q.value);
    }
    case Route::trace: co_return get_trace(ctx.context.store, m.param);
    case Route::trace_tree: co_return get_trace_tree(ctx.context.store, m.param);
    case Route::run: co_return get_run(ctx.context.store, m.param);
    case Route::ui: co_return ui::ui_response(m.param, header(req, boost::beast::http::field::if_none_match));
    case Route::metrics: {
      Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = format_prometheus(read_metrics(ctx.context.metrics, ctx.requests, ctx.counters));
      co_return r;
    }
    case Route::spans: {
      Response r = co_await post_spans(ctx, req);
      co_return r;
    }
    case Route::v1_traces: {
      Response r = co_await post_otlp_traces(ctx, req);
      co_return r;
    }
    case Route::stream: {
      // A valid stream request never gets here: the server streams it (sse_session.hpp).
      auto q = parse_stream_query(target);
      if (!q.value) co_return error_response(400, q.error);
      co_return error_response(503, "live stream unavailable");
    }
    default: break;
  }
  co_return error_response(404, "not found");
}

}  // namespace tracecol::http
