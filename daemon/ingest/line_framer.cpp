#include "daemon/ingest/line_framer.hpp"

#include <algorithm>
#include <cstring>

namespace tracecol::ingest {

LineFramer::LineFramer(std::size_t max_line_bytes, std::size_t read_size, LineBudget* budget)
    : max_line_(max_line_bytes), read_size_(read_size), budget_(budget) {}

LineFramer::~LineFramer() {
  if (budget_ != nullptr) budget_->give(charged(cap_));
}

std::span<char> LineFramer::prepare() {
  // After compact() the unfinished line starts at 0 and is at most max_line_ + 1 bytes, so
  // the buffer never needs more than max_line_ + 2 + read_size_.
  if (cap_ < end_ + read_size_) {
    const std::size_t want = std::min(std::max(2 * cap_, end_ + read_size_), max_line_ + 2 + read_size_);
    if (budget_ != nullptr && charged(want) > charged(cap_) && !budget_->take(charged(want) - charged(cap_))) {
      // No room for this line to grow: drop what it has so far and skip the rest of it,
      // as for an over-long line. The buffer as it is holds the next read.
      budget_drop_ = end_ - begin_;
      skipping_ = true;
      skipped_ = end_ - begin_;
      begin_ = end_ = 0;
      return {buf_.get(), read_size_};
    }
    auto bigger = std::make_unique_for_overwrite<char[]>(want);
    if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    cap_ = want;
  }
  return {buf_.get() + end_, read_size_};
}

void LineFramer::release() {
  if (end_ != begin_) return;
  if (budget_ != nullptr) budget_->give(charged(cap_));
  begin_ = end_ = 0;
  buf_.reset();
  cap_ = 0;
}

void LineFramer::compact() {
  // Once per read: move the unfinished line to the front so the next read fits.
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
}

}  // namespace tracecol::ingest
