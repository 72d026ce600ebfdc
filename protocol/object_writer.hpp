#pragma once
// The one place that writes JSON object punctuation (braces, commas, quoted keys) and
// plain unsigned integers, for the encoders of protocol/.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace tracecol::protocol {

/** Writes an object's members in order; the commas and key quoting live here only. */
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  /** Starts the member `key` (a plain ASCII name, not escaped) and returns the buffer for its value. */
  std::string& key(std::string_view key) {
    out_ += first_ ? "\"" : ",\"";
    first_ = false;
    out_ += key;
    out_ += "\":";
    return out_;
  }
  void raw(std::string_view key, std::string_view json) { this->key(key) += json; }
  void close() { out_ += '}'; }

 private:
  std::string& out_;
  bool first_ = true;
};

/** Decimal digits (to_chars: snprintf costs more than the rest of a span's encoding). */
inline void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

/** v (< 10^width) as exactly `width` digits, zero-padded: the fraction of a decimal. */
inline void append_padded(std::string& out, std::uint64_t v, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

}  // namespace tracecol::protocol
