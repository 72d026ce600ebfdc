#include "daemon/ingest/line_framer.hpp"

#include <cstring>

namespace tracecol::ingest {

LineFramer::LineFramer(std::size_t max_line_bytes, std::size_t read_size)
    : max_line_(max_line_bytes), read_size_(read_size), buf_(max_line_bytes + 2 + read_size) {}

std::span<char> LineFramer::prepare() { return {buf_.data() + end_, read_size_}; }

void LineFramer::compact() {
  // Once per read: move the unfinished line to the front so the next read fits.
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
}

}  // namespace tracecol::ingest
