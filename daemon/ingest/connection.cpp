#include "daemon/ingest/connection.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "daemon/log.hpp"
#include "protocol/encoder.hpp"
#include "protocol/json_merge.hpp"
#include "protocol/text_bytes.hpp"

namespace tracecol::ingest {
namespace {

using daemon::LogLevel;

// One limiter for the whole daemon: a flood of bad lines costs a few log lines a second.
daemon::RateLimiter g_reject_log(5);
// Connection summaries with rejections: a connect-send-garbage-close loop must not
// write one line per connection (it reached 2 MB/s of log before this bound).
daemon::RateLimiter g_close_log(5);

/**
 * Whether metadata may hold a top-level "peer.pid" / "peer.uid" of the agent's own: a cheap
 * filter (the literal, or a \u00XX escape that could spell it) before the exact key scan.
 */
bool may_name_peer_key(std::string_view metadata) {
  if (metadata.size() <= 2) return false;
  return memmem(metadata.data(), metadata.size(), "peer.", 5) != nullptr ||
         memmem(metadata.data(), metadata.size(), "\\u00", 4) != nullptr;
}

}  // namespace

Connection::Connection(local_stream::socket socket, std::uint64_t id, ConnectionContext& context,
                       std::optional<PeerCred> peer)
    : socket_(std::move(socket)),
      strand_(net::make_strand(socket_.get_executor())),
      capacity_timer_(strand_),
      quiet_timer_(strand_),
      id_(id),
      ctx_(context),
      framer_(context.max_line_bytes, 64 * 1024, context.line_budget),
      decoder_(context.decode),
      peer_(peer) {
  ctx_.counters.connections_active.fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
  ctx_.counters.connections_active.fetch_sub(1, std::memory_order_relaxed);
}

void Connection::start() {
  ctx_.readers_active.fetch_add(1);
  net::co_spawn(strand_, [self = shared_from_this()] { return self->read_loop(); }, net::detached);
}

void Connection::stop_reading(std::chrono::steady_clock::time_point deadline) {
  net::post(strand_, [self = shared_from_this(), deadline] {
    if (self->stopping_) return;
    self->stopping_ = true;
    self->stop_deadline_ = deadline;
    // Wakes a reader parked in async_read_some (or held back by backpressure); it goes on
    // reading with a silence timeout from then on.
    boost::system::error_code ignored;
    self->socket_.cancel(ignored);
    self->capacity_timer_.cancel();
  });
}

void Connection::arm_quiet_timer() {
  const auto now = std::chrono::steady_clock::now();
  quiet_timer_.expires_at(std::min(now + ctx_.shutdown_quiet, std::max(now, stop_deadline_)));
  quiet_timer_.async_wait([self = shared_from_this(), generation = read_generation_](boost::system::error_code ec) {
    // A stale expiry (its read already completed) must not cut the next read short.
    if (ec || generation != self->read_generation_) return;
    boost::system::error_code ignored;
    self->socket_.cancel(ignored);
  });
}

net::awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  bool drained = true;  // the last read came up short: the socket had nothing more then
  for (;;) {
    while (in_flight_ >= ctx_.max_batches_in_flight && !stopping_) {
      // Backpressure: the assembler is behind; stop reading until it catches up.
      capacity_timer_.expires_at(net::steady_timer::time_point::max());
      co_await capacity_timer_.async_wait(net::as_tuple(net::use_awaitable));
    }
    const bool timed = stopping_;
    if (timed) {
      if (std::chrono::steady_clock::now() >= stop_deadline_) break;
      arm_quiet_timer();
    }
    boost::system::error_code ec;
    std::size_t n = 0;
    if (drained && framer_.buffered() == 0) {
      // Between lines with the socket drained: wait for readability holding no buffer, so
      // an idle agent costs no 64 KiB (10k idle agents: no 640 MiB). A busy agent never
      // gets here: its reads fill the buffer, and the next read is speculative.
      framer_.release();
      auto [wait_ec] = co_await socket_.async_wait(local_stream::socket::wait_read, net::as_tuple(net::use_awaitable));
      ec = wait_ec;
    }
    if (!ec) {
      auto space = framer_.prepare();
      if (const auto dropped = framer_.take_budget_drop()) {
        ++line_number_;
        ctx_.counters.lines_received.fetch_add(1, std::memory_order_relaxed);
        reject(protocol::RejectReason::line_buffer_full, *dropped, 0, {});
      }
      auto [read_ec, read_n] = co_await socket_.async_read_some(net::buffer(space.data(), space.size()),
                                                                 net::as_tuple(net::use_awaitable));
      ec = read_ec;
      n = read_n;
      drained = n < space.size();
    }
    ++read_generation_;
    if (timed) quiet_timer_.cancel();
    if (n > 0) on_bytes(n);
    // Aborted by stop_reading(): loop again, now with the silence timeout.
    if (ec == net::error::operation_aborted && stopping_ && !timed) continue;
    if (ec) break;  // EOF, reset, or silent through the shutdown grace
  }
  if (std::size_t partial = framer_.finish(); partial > 0) {
    ctx_.counters.partial_lines_dropped.fetch_add(1, std::memory_order_relaxed);
    daemon::log(LogLevel::debug, "conn %" PRIu64 ": dropped a partial line of %zu bytes at EOF", id_, partial);
  }
  submit_batch();
  framer_.release();
  log_close();
  ctx_.readers_active.fetch_sub(1);
  // The connection stays alive (and the socket open for flushed replies) until every
  // handed-off batch is applied and the outbox is written: the callbacks hold `self`.
}

void Connection::on_bytes(std::size_t n) {
  ctx_.counters.bytes_received.fetch_add(n, std::memory_order_relaxed);
  decoder_.set_monotonic_offset_ns(ctx_.monotonic_offset_ns.load(std::memory_order_relaxed));
  if (batch_.events.capacity() == 0) batch_.events.reserve(last_batch_events_);
  const std::uint64_t lines_before = line_number_;
  const std::uint64_t blank_before = framer_.blank_lines();
  framer_.commit(
      n, [this](std::string_view line) { handle_line(line); },
      [this](std::size_t length) {
        ++line_number_;
        reject(protocol::RejectReason::line_too_long, length, ctx_.max_line_bytes, {});
      });
  ctx_.counters.lines_received.fetch_add(line_number_ - lines_before, std::memory_order_relaxed);
  ctx_.counters.lines_blank.fetch_add(framer_.blank_lines() - blank_before, std::memory_order_relaxed);
  submit_batch();
}

void Connection::handle_line(std::string_view line) {
  ++line_number_;
  protocol::Event& event = batch_.events.emplace_back();
  const protocol::DecodeResult result = decoder_.decode(line, event);
  if (!result.ok) {
    batch_.events.pop_back();
    reject(result.reason, line.size(), result.offset, line);
    return;
  }
  if (event.is_data()) {
    ++decoded_;
    if (peer_) stamp_peer(event);
    return;
  }
  if (event.type == protocol::EventType::flush) {
    batch_.flushes.push_back({batch_.events.size() - 1, event.flush_id, decoded_, rejected_, last_decode_error_});
  }
  batch_.events.pop_back();
  ctx_.counters.control_lines.fetch_add(1, std::memory_order_relaxed);
}

void Connection::stamp_peer(protocol::Event& event) const {
  const auto stamp = [this](protocol::Span& span) {
    span.has_peer = true;
    span.peer_pid = peer_->pid;
    span.peer_uid = peer_->uid;
    // The kernel's word wins over the agent's: its own peer.* members would let it pose as
    // another process, and would repeat a key once the daemon's are rendered.
    if (span.has(protocol::field_metadata) && may_name_peer_key(span.metadata))
      protocol::remove_json_members(span.metadata, {protocol::peer_pid_key, protocol::peer_uid_key});
  };
  switch (event.type) {
    case protocol::EventType::span:
    case protocol::EventType::span_start:
    case protocol::EventType::span_end: stamp(event.span); break;
    case protocol::EventType::trace:
      for (protocol::Span& span : event.spans) stamp(span);
      break;
    default: break;
  }
}

void Connection::reject(protocol::RejectReason reason, std::size_t length, std::size_t offset,
                        std::string_view line) {
  ++rejected_;
  last_decode_error_ = LastError{reason, {batch_seq_, 2 * batch_.events.size()}};
  ctx_.counters.reject(reason);
  ++rejected_by_reason_[static_cast<std::size_t>(reason)];
  std::uint64_t suppressed = 0;
  if (daemon::log_enabled(LogLevel::warn) && g_reject_log.allow(&suppressed)) {
    if (suppressed > 0) {
      daemon::log(LogLevel::warn, "%" PRIu64 " more rejected lines suppressed (log rate limit)", suppressed);
    }
    const std::string_view name = protocol::to_string(reason);
    // Never the raw bytes: they may hold secrets or terminal escapes. A hash identifies them
    // (an over-long line was never held whole, so it has none).
    char hash[24] = "-";
    if (!line.empty()) std::snprintf(hash, sizeof hash, "%016" PRIx64, protocol::fnv1a(line));
    daemon::log(LogLevel::warn, "conn %" PRIu64 " (pid %d uid %u) line %" PRIu64
                ": rejected (%.*s) at byte %zu, line length %zu, fnv1a64 %s",
                id_, peer_ ? static_cast<int>(peer_->pid) : -1, peer_ ? static_cast<unsigned>(peer_->uid) : 0u,
                line_number_, static_cast<int>(name.size()), name.data(), offset, length, hash);
  }
}

void Connection::log_close() const {
  const LogLevel level = rejected_ > 0 ? LogLevel::info : LogLevel::debug;
  if (!daemon::log_enabled(level)) return;
  std::uint64_t suppressed = 0;
  if (level == LogLevel::info && !g_close_log.allow(&suppressed)) return;
  if (suppressed > 0)
    daemon::log(level, "%" PRIu64 " more summaries of connections with rejected lines suppressed (log rate limit)",
                suppressed);
  std::string reasons;
  for (std::size_t i = 0; i < rejected_by_reason_.size(); ++i) {
    if (rejected_by_reason_[i] == 0) continue;
    reasons += ' ';
    reasons += protocol::to_string(static_cast<protocol::RejectReason>(i));
    reasons += '=' + std::to_string(rejected_by_reason_[i]);
  }
  daemon::log(level, "conn %" PRIu64 " closed: %" PRIu64 " lines, %" PRIu64 " decoded, %" PRIu64 " rejected at decode%s", id_,
              line_number_, decoded_, rejected_, reasons.c_str());
}

void Connection::submit_batch() {
  if (batch_.events.empty() && batch_.flushes.empty()) return;
  const std::size_t data_events = batch_.events.size();
  std::vector<FlushRequest> flushes = batch_.flushes;
  IngestBatch batch = std::move(batch_);
  batch_ = IngestBatch{};
  // Reserved when the next bytes arrive (on_bytes), not now: an idle connection holds nothing.
  last_batch_events_ = data_events;
  ++in_flight_;
  const std::uint64_t seq = batch_seq_++;
  ctx_.sink.submit(std::move(batch), [self = shared_from_this(), seq, flushes = std::move(flushes), data_events](
                                         std::vector<AppliedRejection>&& rejected) mutable {
    net::post(self->strand_, [self, seq, flushes = std::move(flushes), data_events, rejected = std::move(rejected)] {
      self->on_applied(seq, flushes, data_events, rejected);
    });
  });
}

void Connection::on_applied(std::uint64_t batch_seq, const std::vector<FlushRequest>& flushes,
                            std::size_t data_events, const std::vector<AppliedRejection>& rejected) {
  --in_flight_;
  capacity_timer_.cancel();
  ctx_.counters.events_accepted.fetch_add(data_events - rejected.size(), std::memory_order_relaxed);
  for (const auto& r : rejected) ctx_.counters.reject(r.reason);
  std::uint64_t suppressed = 0;
  if (!rejected.empty() && daemon::log_enabled(LogLevel::warn) && g_reject_log.allow(&suppressed)) {
    // The assembler refused decoded events (e.g. too many spans in a trace); their bytes are
    // long gone, so a count and the reason it is.
    const std::string_view name = protocol::to_string(rejected.back().reason);
    daemon::log(LogLevel::warn, "conn %" PRIu64 " (pid %d uid %u): %zu event(s) of one read refused after decoding "
                "(last: %.*s; %" PRIu64 " more rejection logs suppressed)", id_,
                peer_ ? static_cast<int>(peer_->pid) : -1, peer_ ? static_cast<unsigned>(peer_->uid) : 0u,
                rejected.size(), static_cast<int>(name.size()), name.data(), suppressed);
  }
  for (const FlushRequest& flush : flushes) {
    // Batches are applied in order, so every earlier batch's assembler rejections are in
    // applied_rejected_; of this batch, only those before the flush line count.
    std::uint64_t later_rejected = applied_rejected_;
    std::optional<LastError> last = flush.last_error;
    auto consider = [&last](const std::optional<LastError>& e) {
      if (e && (!last || last->at < e->at)) last = e;
    };
    consider(last_applied_error_);
    for (const auto& r : rejected) {
      if (r.index < flush.index) {
        ++later_rejected;
        consider(LastError{r.reason, {batch_seq, 2 * r.index + 1}});
      }
    }
    std::string reply = "{\"type\":\"flushed\",\"id\":" + std::to_string(flush.id) +
                        ",\"accepted\":" + std::to_string(flush.accepted - later_rejected) +
                        ",\"rejected\":" + std::to_string(flush.rejected + later_rejected) + ",\"last_error\":";
    if (last) protocol::append_json_string(reply, protocol::to_string(last->reason));
    else reply += "null";
    reply += "}\n";
    send(std::move(reply));
    ctx_.counters.flushes_answered.fetch_add(1, std::memory_order_relaxed);
  }
  applied_rejected_ += rejected.size();
  for (const auto& r : rejected) {
    LastError e{r.reason, {batch_seq, 2 * r.index + 1}};
    if (!last_applied_error_ || last_applied_error_->at < e.at) last_applied_error_ = e;
  }
}

void Connection::send(std::string line) {
  outbox_.push_back(std::move(line));
  if (!writing_) write_next();
}

void Connection::write_next() {
  if (outbox_.empty()) {
    writing_ = false;
    return;
  }
  writing_ = true;
  net::async_write(socket_, net::buffer(outbox_.front()),
                   net::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                     self->outbox_.erase(self->outbox_.begin());
                     if (ec) {
                       self->outbox_.clear();  // the agent went away; nobody is left to read replies
                       self->writing_ = false;
                       return;
                     }
                     self->write_next();
                   }));
}

}  // namespace tracecol::ingest
