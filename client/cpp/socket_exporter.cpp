#include "client/cpp/socket_exporter.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>

namespace tracecol::client {

namespace {

using clock = std::chrono::steady_clock;

int poll_ms(clock::duration d) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 1000));
}

}  // namespace

std::string socket_path_from_env() {
  const char* env = std::getenv("TRACECOL_SOCKET");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(default_socket_path);
}

SocketExporter::SocketExporter(TracingConfig config) : config_(std::move(config)) {
  if (config_.socket_path.empty()) config_.socket_path = socket_path_from_env();
  config_.batch_bytes = std::max<std::size_t>(config_.batch_bytes, 4096);
  config_.reconnect_min = std::max(config_.reconnect_min, std::chrono::milliseconds(1));
  config_.reconnect_max = std::max(config_.reconnect_max, config_.reconnect_min);
  // Both buffers get their full size now (address space only; pages become resident as
  // they are written): no reallocation, and no copy under the lock, ever after.
  try {
    pending_.reserve(config_.max_buffered_bytes);
    batch_.reserve(config_.max_buffered_bytes);
  } catch (...) {
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  try {
    writer_ = std::thread([this] { run(); });
  } catch (...) {
    // No writer: every line is dropped and counted; the agent is never affected.
    std::lock_guard lk(mu_);
    stop_ = true;
  }
}

SocketExporter::~SocketExporter() {
  if (writer_.joinable()) {
    // Waiting is pointless when the daemon is known to be away: the agent exits at once.
    if (!connect_failed_.load(std::memory_order_acquire)) flush(config_.shutdown_timeout);
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    abort_.store(true, std::memory_order_release);
    wake();
    writer_.join();
  }
  if (fd_ >= 0) ::close(fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void SocketExporter::wake() noexcept {
  if (wake_fd_ < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

bool SocketExporter::enqueue_line(std::string_view line) noexcept {
  bool need_wake = false;
  {
    std::lock_guard lk(mu_);
    if (stop_ || pending_lines_ >= config_.max_buffered_spans ||
        pending_.size() + inflight_bytes_ + line.size() > config_.max_buffered_bytes) {
      ++dropped_;
      return false;
    }
    const bool was_empty = pending_.empty();
    try {
      pending_.append(line);
    } catch (...) {
      ++dropped_;
      return false;
    }
    ++pending_lines_;
    ++enqueued_;
    if (!wake_sent_ &&
        (pending_.size() >= config_.batch_bytes || (was_empty && writer_idle_.load(std::memory_order_relaxed)))) {
      wake_sent_ = true;
      need_wake = true;
    }
  }
  if (need_wake) wake();
  return true;
}

void SocketExporter::export_span(const SpanRecord& span) noexcept {
  thread_local std::string line;
  try {
    line.clear();
    append_span_line(line, span, config_.include_outputs);
  } catch (...) {
    std::lock_guard lk(mu_);
    ++dropped_;
    return;
  }
  enqueue_line(line);
}

void SocketExporter::end_trace(const TraceId& trace_id, const std::string& run_id) noexcept {
  thread_local std::string line;
  try {
    line.clear();
    append_trace_end_line(line, trace_id, run_id);
  } catch (...) {
    std::lock_guard lk(mu_);
    ++dropped_;
    return;
  }
  enqueue_line(line);
}

bool SocketExporter::flush(std::chrono::milliseconds timeout) noexcept {
  const auto deadline = clock::now() + std::min(timeout, std::chrono::milliseconds(24L * 3600 * 1000));
  std::unique_lock lk(mu_);
  if (stop_) return false;
  const std::uint64_t id = ++flush_requested_;
  lk.unlock();
  wake();
  lk.lock();
  return flushed_cv_.wait_until(lk, deadline, [&] { return flush_confirmed_ >= id; });
}

SocketExporterStats SocketExporter::stats() const {
  SocketExporterStats s;
  std::lock_guard lk(mu_);
  s.enqueued_lines = enqueued_;
  s.dropped_lines = dropped_;
  s.written_lines = written_;
  s.connects = connects_;
  s.connection_losses = losses_;
  s.daemon_accepted = closed_accepted_ + conn_accepted_;
  s.daemon_rejected = closed_rejected_ + conn_rejected_;
  s.daemon_last_error = last_error_;
  s.buffered_bytes = pending_.size() + inflight_bytes_;
  return s;
}

void SocketExporter::run() noexcept {
  auto backoff = config_.reconnect_min;
  auto next_connect = clock::now();
  std::size_t batch_lines = 0;
  bool idle_round = false;
  while (true) {
    if (fd_ < 0 && clock::now() >= next_connect) {
      if (connect_once()) {
        backoff = config_.reconnect_min;
      } else {
        next_connect = clock::now() + backoff;
        backoff = std::min(backoff * 2, config_.reconnect_max);
      }
    }
    bool stopping = false;
    bool took = false;
    std::uint64_t flush_target = 0;
    {
      std::lock_guard lk(mu_);
      stopping = stop_;
      if (fd_ >= 0 && batch_.empty()) {
        if (!pending_.empty()) {
          batch_.swap(pending_);
          batch_lines = pending_lines_;
          pending_lines_ = 0;
          inflight_bytes_ = batch_.size();
          took = true;
        }
        // Only when all pending data is in this batch may the flush line follow it.
        flush_target = flush_requested_;
        wake_sent_ = false;
      }
    }
    if (fd_ >= 0 && flush_target > flush_sent_) {
      batch_ += R"({"type":"flush","id":)";
      char num[24];
      batch_.append(num, std::to_chars(num, num + sizeof num, flush_target).ptr);
      batch_ += "}\n";
      flush_sent_ = flush_target;
      took = true;
    }
    if (fd_ >= 0 && !batch_.empty()) {
      std::size_t written = 0;
      const bool ok = write_all(batch_, written);
      std::size_t left = 0;
      if (ok) {
        batch_.clear();
      } else {
        // Resend from the start of the line the break cut; the daemon drops a partial line.
        const std::size_t nl = written == 0 ? std::string::npos : batch_.rfind('\n', written - 1);
        batch_.erase(0, nl == std::string::npos ? 0 : nl + 1);
        left = batch_.size();
        disconnect();
        next_connect = clock::now();
      }
      std::lock_guard lk(mu_);
      if (ok) written_ += batch_lines;
      inflight_bytes_ = left;
      if (ok) batch_lines = 0;
    }
    if (stopping) break;

    // Sleep until woken, the batch interval passes, the daemon answers, or it is time to reconnect.
    int timeout = poll_ms(config_.batch_interval);
    if (fd_ < 0) {
      timeout = poll_ms(next_connect - clock::now());
    } else if (!took && idle_round) {
      writer_idle_.store(true, std::memory_order_relaxed);
      std::lock_guard lk(mu_);
      if (pending_.empty() && flush_requested_ <= flush_sent_) timeout = 1000;
      else timeout = 0;
    }
    idle_round = !took;
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
    const int r = ::poll(fds, fd_ >= 0 ? 2 : 1, timeout);
    writer_idle_.store(false, std::memory_order_relaxed);
    if (r > 0) {
      if (fds[0].revents != 0) {
        std::uint64_t v;
        [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &v, sizeof v);
      }
      if (fd_ >= 0 && fds[1].revents != 0) read_replies();
    }
  }
  // Stopping: what could not be written is lost; say so in the counters.
  std::lock_guard lk(mu_);
  dropped_ += pending_lines_ + batch_lines;
  pending_lines_ = 0;
  flushed_cv_.notify_all();
}

}  // namespace tracecol::client
