#pragma once
// A validating JSON scanner for untrusted lines, written for the RapidJSON 1.1.0 hazards
// (STYLE.md): it reads only inside [begin, end), never recurses on input (an explicit
// stack capped at max_depth), validates UTF-8 and \u surrogate pairs, checks number
// grammar but keeps numbers as text, and finds duplicate keys at any depth in
// O(k log k) per object. It records byte ranges instead of building a DOM, so values
// can be re-emitted as the bytes they arrived as.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/reject_reason.hpp"

namespace tracecol::protocol {

class JsonScanner {
 public:
  /** Starts a new line; scratch buffers are kept (cleared, not freed). */
  void reset(const char* begin, const char* end, std::size_t max_depth);

  const char* begin() const { return begin_; }
  const char* end() const { return end_; }

  void skip_ws(const char*& p) const {
    while (p < end_ && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  }

  /**
   * p at '"': validates the string, leaves p after the closing quote. raw is the content
   * as written; escaped tells whether it holds backslash escapes (then unescape() it).
   */
  bool scan_string(const char*& p, std::string_view& raw, bool& escaped);
  /** Appends the decoded UTF-8 of a validated string content to out. */
  static void unescape(std::string_view raw, std::string& out);
  /** The four hex digits at p (a \u escape's) into out; false when one is not a hex digit. */
  static bool read_hex4(const char* p, unsigned& out);
  /** The string's text: raw when it has no escapes, else decoded into a stable scratch slot. */
  std::string_view text_of(std::string_view raw, bool escaped);

  /** p at a number's first char: grammar check; token is the number as written. */
  bool scan_number(const char*& p, std::string_view& token);

  /**
   * Validates one value at p (p after it on success). depth: nesting of the container
   * that holds the value (the line's object is 1). When redact_keys is given, the values
   * of matching keys (outermost only) are recorded in redactions().
   */
  bool skip_value(const char*& p, std::size_t depth, const std::vector<std::string>* redact_keys = nullptr,
                  bool kept = false);

  /**
   * For values that are stored and re-emitted (kept): a number must be a finite double
   * with an exponent part of at most +308 and -999 (3 digits), so every JSON reader
   * (RapidJSON 1.1.0 included, which fails on 1e309 and 0e999 and turns 1.8e308 into inf;
   * 5e-324 and 1e-999 it reads as a subnormal and 0) can read the record back.
   */
  static bool fits_double(std::string_view token);
  const std::vector<std::pair<std::size_t, std::size_t>>& redactions() const { return redactions_; }
  void clear_redactions() { redactions_.clear(); }

  // Duplicate-key tracking, one frame per open object.
  void begin_keys() { key_frames_.push_back(keys_.size()); }
  void add_key(std::string_view key) { keys_.push_back(key); }
  /** Closes the frame (at: the object's '}'); false (duplicate_key) when two keys were equal. */
  bool end_keys(const char* at);

  /** Records a failure (the first one wins) and returns false. */
  bool fail(RejectReason reason, const char* at);
  bool failed() const { return failed_; }
  RejectReason reason() const { return reason_; }
  std::size_t offset() const { return static_cast<std::size_t>(fail_at_ - begin_); }

 private:
  bool scan_escape(const char*& p);
  bool scan_utf8(const char*& p);
  bool scan_literal(const char*& p, std::string_view word);

  /** Leaves p at the first byte of a string's content that is not plain printable ASCII. */
  const char* skip_plain(const char* p) const;

  struct HashedKey {
    std::uint64_t hash;
    std::string_view text;
  };
  const char* begin_ = nullptr;
  const char* end_ = nullptr;
  std::size_t max_depth_ = 64;
  std::vector<char> stack_;
  std::vector<std::string_view> keys_;  // keys of the open objects, frame by frame
  std::vector<HashedKey> hashed_;       // scratch for checking a large object
  std::vector<std::size_t> key_frames_;
  std::deque<std::string> unescaped_;  // deque: slots never move, so views into them stay valid
  std::size_t unescaped_used_ = 0;
  std::vector<std::pair<std::size_t, std::size_t>> redactions_;
  bool failed_ = false;
  RejectReason reason_ = RejectReason::invalid_json;
  const char* fail_at_ = nullptr;
};

}  // namespace tracecol::protocol
