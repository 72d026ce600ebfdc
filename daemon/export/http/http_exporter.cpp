#include "daemon/export/http/http_exporter.hpp"

#include <algorithm>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "daemon/log.hpp"
#include "daemon/thread_name.hpp"
#include "protocol/encoder.hpp"
#include "protocol/otlp_encoder.hpp"
#include "protocol/otlp_proto_encoder.hpp"

namespace tracecol::exporters::http {

using Clock = std::chrono::steady_clock;
using daemon::log;
using daemon::LogLevel;

namespace {

daemon::RateLimiter drop_log(2);

/**
 * Encodes batch's records in order into body while it stays within max_bytes (the first
 * always goes in, as in RecordQueue::take); how many went in. The batch was taken by
 * estimated sizes: the real encoding decides what fits.
 */
template <typename Body, typename Encode>
std::size_t encode_fitting(const std::vector<Record>& batch, Body& body, std::uint64_t max_bytes, Encode&& encode) {
  std::size_t records = 0;
  for (const Record& r : batch) {
    const std::size_t before = body.size();
    encode(body, r, records);
    if (records > 0 && body.size() > max_bytes) {
      body.resize(before);
      break;
    }
    ++records;
  }
  return records;
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

std::unique_ptr<HttpExporter> HttpExporter::create(HttpExporterOptions options, std::string* error) {
  std::string why;
  auto url = parse_url(options.url, &why);
  if (!url) {
    if (error) *error = "--export-http " + url_for_log(options.url) + ": " + why;
    return nullptr;
  }
  auto client = HttpClient::create(ClientOptions{*url, options.timeout, options.insecure, options.ca_file}, &why);
  if (!client) {
    if (error) *error = "--export-http " + url_for_log(options.url) + ": " + why;
    return nullptr;
  }
  return std::unique_ptr<HttpExporter>(new HttpExporter(std::move(options), std::move(client), std::move(*url)));
}

HttpExporter::HttpExporter(HttpExporterOptions options, std::unique_ptr<HttpClient> client, Url url)
    : options_(std::move(options)),
      client_(std::move(client)),
      url_(std::move(url)),
      name_("http:" + url_.host_header),
      content_type_(options_.format == Format::otlp         ? "application/json"
                    : options_.format == Format::otlp_proto ? "application/x-protobuf"
                                                            : "application/x-ndjson"),
      rng_(std::random_device{}()),
      queue_(options_.queue) {
  if (options_.max_batch_traces == 0) options_.max_batch_traces = 1;
  body_reserve_ = static_cast<std::size_t>(std::min<std::uint64_t>(options_.max_batch_bytes, 64ull << 20));
  if (url_.tls && options_.insecure)
    log(LogLevel::warn, "export-http %s: --export-http-insecure: the server's TLS certificate is NOT checked; "
        "anyone on the path can read and alter exported traces", options_.url.c_str());
  sender_ = std::thread([this] {
    name_this_thread("tc-http-send");
    run();
  });
}

HttpExporter::~HttpExporter() { shutdown(); }

std::optional<Exporter::Handoff> HttpExporter::handoff() const {
  const HttpExporterStats s = stats();
  Handoff h;
  h.traces_delivered = s.traces_sent;
  h.spans_delivered = s.spans_sent;
  h.traces_failed = s.traces_failed;
  h.spans_failed = s.spans_failed;
  h.traces_dropped = s.traces_dropped_queue + s.traces_dropped_gave_up + s.traces_dropped_shutdown;
  h.spans_dropped = s.spans_dropped;
  h.traces_pending = s.traces_pending;
  h.spans_pending = s.spans_pending;
  h.spans_rejected_by_receiver = s.spans_rejected_by_receiver;
  h.latency = s.latency;
  return h;
}

void HttpExporter::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  client_->abort();
  sender_.join();
  const HttpExporterStats s = stats();
  log(LogLevel::info,
      "export-http %s: queued=%llu sent=%llu spans_sent=%llu failed=%llu dropped_queue=%llu gave_up=%llu "
      "dropped_shutdown=%llu retried=%llu requests=%llu requests_failed=%llu",
      name_.c_str(), ull(s.traces_queued), ull(s.traces_sent), ull(s.spans_sent), ull(s.traces_failed),
      ull(s.traces_dropped_queue), ull(s.traces_dropped_gave_up), ull(s.traces_dropped_shutdown),
      ull(s.traces_retried), ull(s.requests), ull(s.requests_failed));
}

ExportStatus HttpExporter::export_trace(const protocol::Trace& trace) {
  return export_shared(std::make_shared<const protocol::Trace>(trace));
}

ExportStatus HttpExporter::export_shared(const TracePtr& trace) {
  Record record{trace, encoded_size_estimate(*trace), trace->spans.size(), Clock::now()};
  bool wake = false;
  RecordQueue::Dropped dropped;
  {
    std::lock_guard lock(mu_);
    ++stats_.traces_queued;
    if (trace->spans.empty()) {  // nothing to send (OTLP has no record of an empty trace)
      ++stats_.traces_sent;
      return ExportStatus::ok;
    }
    dropped = queue_.push(std::move(record));
    stats_.traces_dropped_queue += dropped.traces;
    stats_.spans_dropped += dropped.spans;
    // The sender needs a nudge to arm its max-delay timer, or when a batch is full.
    wake = queue_.size() == 1 || queue_.batch_ready(options_.max_batch_traces, options_.max_batch_bytes);
  }
  if (wake) wake_.notify_one();
  std::uint64_t suppressed = 0;
  if (dropped.traces > 0 && drop_log.allow(&suppressed))
    log(LogLevel::warn, "export-http %s: queue full, dropped the oldest %llu trace(s) (%llu similar messages suppressed)",
        name_.c_str(), ull(dropped.traces), ull(suppressed));
  return ExportStatus::ok;
}

void HttpExporter::flush() {
  std::unique_lock lock(mu_);
  flushing_ = true;
  wake_.notify_all();
  idle_.wait_for(lock, options_.drain_timeout, [this] { return stop_ || (queue_.empty() && !in_flight_); });
  flushing_ = false;
}

HttpExporterStats HttpExporter::stats() const {
  std::lock_guard lock(mu_);
  HttpExporterStats s = stats_;
  s.traces_pending = queue_.size() + in_flight_traces_;
  s.spans_pending = queue_.spans() + in_flight_spans_;
  return s;
}

void HttpExporter::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    while (!stop_) {
      if (queue_.empty()) {
        wake_.wait(lock);
        continue;
      }
      if (flushing_ || queue_.batch_ready(options_.max_batch_traces, options_.max_batch_bytes)) break;
      const auto due = queue_.oldest() + options_.max_delay;
      if (Clock::now() >= due) break;
      wake_.wait_until(lock, due);
    }
    if (stop_) break;
    std::vector<Record> batch = queue_.take(options_.max_batch_traces, options_.max_batch_bytes);
    in_flight_ = true;
    in_flight_traces_ = batch.size();
    in_flight_spans_ = 0;
    for (const auto& r : batch) in_flight_spans_ += r.spans;
    lock.unlock();
    BuiltRequest built = build_request(batch);
    lock.lock();
    if (batch.size() > built.records) {
      // Escaping made the encoding larger than estimated: what did not fit goes back to the
      // front of the queue, in order, for the next request.
      for (std::size_t i = built.records; i < batch.size(); ++i) in_flight_spans_ -= batch[i].spans;
      in_flight_traces_ = built.records;
      const RecordQueue::Dropped dropped = queue_.put_back(std::vector<Record>(
          std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(built.records)),
          std::make_move_iterator(batch.end())));
      stats_.traces_dropped_queue += dropped.traces;
      stats_.spans_dropped += dropped.spans;
      batch.resize(built.records);
    }
    lock.unlock();
    send_batch(batch, built.req);
    lock.lock();
    batch.clear();
    in_flight_ = false;
    in_flight_traces_ = 0;
    in_flight_spans_ = 0;
    if (queue_.empty()) idle_.notify_all();
  }
  const RecordQueue::Dropped left = queue_.clear();
  stats_.traces_dropped_shutdown += left.traces;
  stats_.spans_dropped += left.spans;
  idle_.notify_all();
}

template <typename Body>
void HttpExporter::fresh_body(Body& body) const {
  body.clear();
  // Address space, not memory: pages are touched as requests first reach them. Reserved
  // once, the first requests do not copy a doubling buffer a dozen times over; a buffer
  // a single huge trace grew is given back rather than kept for good.
  if (body.capacity() > 2 * body_reserve_) Body().swap(body);
  if (body.capacity() < body_reserve_) body.reserve(body_reserve_);
}

HttpExporter::BuiltRequest HttpExporter::build_request(const std::vector<Record>& batch) {
  Request req{boost::beast::http::verb::post, url_.target, 11};
  req.set(boost::beast::http::field::content_type, content_type_);
  req.set(boost::beast::http::field::user_agent, std::string("tracecol/") + TRACECOL_VERSION);
  for (const auto& [name, value] : options_.headers) req.insert(name, value);
  // Encoded here, just before the write, into a buffer whose capacity outlives the
  // request: the bytes are still in cache when the kernel copies them, and after the first
  // batches no page is touched for the first time.
  if (options_.format == Format::otlp_proto || options_.format == Format::otlp) {
    // Both OTLP encodings write through a cursor into the ByteBuffer: no zero-fill of the
    // room each span reserves.
    const bool proto = options_.format == Format::otlp_proto;
    protocol::ByteBuffer& body = body_bytes_;
    fresh_body(body);
    if (!proto) protocol::append_otlp_request_head(body, options_.service_name);
    const std::size_t records = encode_fitting(batch, body, options_.max_batch_bytes,
                                               [this, proto](protocol::ByteBuffer& bytes, const Record& r, std::size_t index) {
      if (proto) {
        protocol::append_otlp_proto_resource_spans(bytes, *r.trace, options_.service_name);
        return;
      }
      if (index > 0) bytes.push_back(',');
      protocol::append_otlp_spans(bytes, *r.trace);
    });
    if (!proto) protocol::append_otlp_request_tail(body);
    req.body() = {body.data(), body.size()};
    return {std::move(req), records};
  }
  std::string& body = body_text_;
  fresh_body(body);
  const std::size_t records = encode_fitting(batch, body, options_.max_batch_bytes,
                                             [](std::string& text, const Record& r, std::size_t) {
    protocol::append_trace_json(text, *r.trace);
    text += '\n';
  });
  req.body() = {body.data(), body.size()};
  return {std::move(req), records};
}

bool HttpExporter::wait_backoff(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, delay, [this] { return stop_; });
}

void HttpExporter::send_batch(const std::vector<Record>& batch, Request& req) {
  const std::uint64_t traces = batch.size();
  std::uint64_t spans = 0;
  for (const auto& r : batch) spans += r.spans;
  const auto deadline = Clock::now() + options_.max_elapsed;
  for (unsigned attempt = 0;; ++attempt) {
    {
      std::lock_guard lock(mu_);
      if (stop_) {
        stats_.traces_dropped_shutdown += traces;
        stats_.spans_dropped += spans;
        in_flight_traces_ = in_flight_spans_ = 0;
        return;
      }
      ++stats_.requests;
      if (attempt > 0) stats_.traces_retried += traces;
    }
    if (attempt > 0) retried_.fetch_add(traces, std::memory_order_relaxed);
    const Attempt a = client_->post(req);
    const auto answered = Clock::now();
    const auto record_latency = [&] {
      for (const auto& r : batch) stats_.latency.record(std::chrono::duration<double>(answered - r.enqueued).count());
    };
    // One line when the receiver starts failing and one when it answers again: a mistyped
    // URL or a collector that is down is seen at once, not when the first batch gives up.
    if (a.outcome == Outcome::ok && failing_) {
      failing_ = false;
      log(LogLevel::info, "export-http %s: the receiver answers again", name_.c_str());
    } else if (a.outcome != Outcome::ok && a.outcome != Outcome::permanent_status && !failing_) {
      // A permanent answer (400, 413, 415, ...) is an answer, not the receiver failing: it
      // is not retried, and its own line below says so.
      failing_ = true;
      log(LogLevel::warn, "export-http %s: %s; retrying with backoff (further failures are logged when a batch is "
          "dropped)", name_.c_str(), a.detail.c_str());
    }
    std::unique_lock lock(mu_);
    if (a.outcome == Outcome::ok) {
      record_latency();
      stats_.traces_sent += traces;
      stats_.spans_sent += spans;
      in_flight_traces_ = in_flight_spans_ = 0;  // settled in the same step it is counted
      if (a.partial) {
        // Delivered, but the receiver says it kept fewer: OTLP asks the client to tell.
        stats_.spans_rejected_by_receiver += a.partial->rejected_spans;
        lock.unlock();
        std::uint64_t suppressed = 0;
        if (drop_log.allow(&suppressed))
          log(LogLevel::warn,
              "export-http %s: the receiver took the request but rejected %llu of its %llu span(s): %s (%llu similar "
              "messages suppressed)",
              name_.c_str(), ull(a.partial->rejected_spans), ull(spans),
              a.partial->message.empty() ? "no reason given" : a.partial->message.c_str(), ull(suppressed));
      }
      return;
    }
    ++stats_.requests_failed;
    if (stop_) {
      stats_.traces_dropped_shutdown += traces;
      stats_.spans_dropped += spans;
      in_flight_traces_ = in_flight_spans_ = 0;
      return;
    }
    std::uint64_t suppressed = 0;
    if (a.outcome == Outcome::permanent_status) {
      record_latency();
      stats_.traces_failed += traces;
      stats_.spans_failed += spans;
      in_flight_traces_ = in_flight_spans_ = 0;
      lock.unlock();
      if (drop_log.allow(&suppressed))
        log(LogLevel::warn, "export-http %s: %s; %llu trace(s) dropped, not retried (%llu similar messages suppressed)",
            name_.c_str(), a.detail.c_str(), ull(traces), ull(suppressed));
      return;
    }
    lock.unlock();
    std::optional<std::chrono::seconds> retry_after;
    if (!a.retry_after.empty()) retry_after = parse_retry_after(a.retry_after, std::chrono::system_clock::now());
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    const auto delay = next_delay(a.outcome, retry_after, attempt, remaining, options_.backoff, rng_);
    if (!delay) {
      {
        std::lock_guard relock(mu_);
        stats_.traces_dropped_gave_up += traces;
        stats_.spans_dropped += spans;
        in_flight_traces_ = in_flight_spans_ = 0;
      }
      if (drop_log.allow(&suppressed))
        log(LogLevel::warn, "export-http %s: %s; gave up after %u attempt(s), %llu trace(s) dropped "
            "(%llu similar messages suppressed)", name_.c_str(), a.detail.c_str(), attempt + 1, ull(traces),
            ull(suppressed));
      return;
    }
    log(LogLevel::debug, "export-http %s: %s; retry %u in %lld ms", name_.c_str(), a.detail.c_str(), attempt + 1,
        static_cast<long long>(delay->count()));
    if (!wait_backoff(*delay)) {
      std::lock_guard relock(mu_);
      stats_.traces_dropped_shutdown += traces;
      stats_.spans_dropped += spans;
      in_flight_traces_ = in_flight_spans_ = 0;
      return;
    }
  }
}

}  // namespace tracecol::exporters::http
