#pragma once
// The one place that writes JSON object punctuation (braces, commas, quoted keys) and
// plain unsigned integers, for the encoders of protocol/.

#include <cinttypes>
#include <cstdint>
#include <cstdio>
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

inline void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%" PRIu64, v);
  out.append(buf, static_cast<std::size_t>(n));
}

}  // namespace tracecol::protocol
