#pragma once
// Splits a byte stream into lines. The socket reads straight into the framer's buffer
// (prepare/commit), so bytes are copied at most once: when a partial line is moved to
// the front after a read. The buffer never grows past max_line_bytes + read_size + 2, is
// allocated on the first read (not per connection) and grows only while a long line is
// being assembled; release() gives it back while no partial line is held, so an idle
// connection costs no buffer at all.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace tracecol::ingest {

/**
 * Memory every connection's long lines share: the part of a framer's buffer past two
 * reads. Without it, 1,000 agents each holding an unfinished 1 MiB line pin 1 GiB for as
 * long as they like. Thread-safe.
 */
class LineBudget {
 public:
  explicit LineBudget(std::size_t limit) : limit_(limit) {}
  /** Takes n bytes if they fit under the limit. */
  bool take(std::size_t n) {
    std::size_t held = held_.load(std::memory_order_relaxed);
    do {
      if (n > limit_ - std::min(held, limit_)) return false;
    } while (!held_.compare_exchange_weak(held, held + n, std::memory_order_relaxed));
    return true;
  }
  void give(std::size_t n) { held_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t held() const { return held_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  std::size_t limit_;
  std::atomic<std::size_t> held_{0};
};

class LineFramer {
 public:
  /**
   * max_line_bytes: longest accepted line (without '\n'); read_size: bytes per read;
   * budget: where the buffer's growth past two reads is taken from (nullptr: unbounded).
   */
  LineFramer(std::size_t max_line_bytes, std::size_t read_size = 64 * 1024, LineBudget* budget = nullptr);
  ~LineFramer();
  LineFramer(const LineFramer&) = delete;
  LineFramer& operator=(const LineFramer&) = delete;

  /**
   * Writable space for the next read (read_size bytes); allocates or grows the buffer if
   * needed. When the budget cannot cover the growth, the unfinished line is dropped
   * instead (its bytes up to the next '\n' are skipped) and take_budget_drop() says so.
   */
  std::span<char> prepare();

  /** The length of the line prepare() last dropped for want of budget, once; nullopt when none. */
  std::optional<std::size_t> take_budget_drop() { return std::exchange(budget_drop_, std::nullopt); }

  /** Frees the buffer when no partial line is held (an idle connection); prepare() brings it back. */
  void release();

  /** Bytes currently allocated for the buffer (0 after release()). */
  std::size_t capacity() const { return cap_; }

  /**
   * Takes n bytes written into prepare()'s space and emits every complete line:
   * on_line(std::string_view) for each non-blank line (a trailing '\r' is stripped),
   * on_too_long(std::size_t bytes_seen) once per line over the limit (its bytes are
   * skipped up to the next '\n'). Blank lines are counted in blank_lines().
   */
  template <typename OnLine, typename OnTooLong>
  void commit(std::size_t n, OnLine&& on_line, OnTooLong&& on_too_long);

  /**
   * At EOF: bytes of an unterminated last line (the caller drops and counts it); 0 when the
   * stream ended cleanly or inside an over-long line (already reported by on_too_long).
   */
  std::size_t finish() const { return skipping_ ? 0 : end_ - begin_; }

  /** Bytes held for the unfinished line; never more than max_line_bytes + 1. */
  std::size_t buffered() const { return end_ - begin_; }

  std::uint64_t blank_lines() const { return blank_; }

 private:
  void compact();
  /** Buffer bytes charged to the budget: those past two reads. */
  std::size_t charged(std::size_t cap) const { return cap > 2 * read_size_ ? cap - 2 * read_size_ : 0; }

  std::size_t max_line_;
  std::size_t read_size_;
  LineBudget* budget_;
  std::optional<std::size_t> budget_drop_;
  std::unique_ptr<char[]> buf_;  // uninitialised: a fresh buffer costs no page writes
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;  // first byte of the current (incomplete) line
  std::size_t end_ = 0;    // end of valid data
  bool skipping_ = false;  // inside an over-long line: drop bytes until '\n'
  std::size_t skipped_ = 0;
  std::uint64_t blank_ = 0;
};

template <typename OnLine, typename OnTooLong>
void LineFramer::commit(std::size_t n, OnLine&& on_line, OnTooLong&& on_too_long) {
  std::size_t scan = end_;
  end_ += n;
  while (scan < end_) {
    const void* hit = std::memchr(buf_.get() + scan, '\n', end_ - scan);
    if (hit == nullptr) break;
    const std::size_t nl = static_cast<std::size_t>(static_cast<const char*>(hit) - buf_.get());
    if (skipping_) {
      skipping_ = false;
      skipped_ = 0;
    } else {
      std::size_t len = nl - begin_;
      if (len > 0 && buf_[nl - 1] == '\r') --len;
      if (len > max_line_) {
        on_too_long(len);
      } else if (len == 0) {
        ++blank_;
      } else {
        on_line(std::string_view(buf_.get() + begin_, len));
      }
    }
    begin_ = nl + 1;
    scan = begin_;
  }
  if (skipping_) {
    skipped_ += end_ - begin_;
    begin_ = end_;
  } else if (end_ - begin_ > max_line_ + 1) {  // +1: a '\r' may still precede the '\n'
    on_too_long(end_ - begin_);
    skipping_ = true;
    skipped_ = end_ - begin_;
    begin_ = end_;
  }
  compact();
}

}  // namespace tracecol::ingest
