#pragma once
// The top-level members of a span's metadata object, classified as OTLP attribute values
// are: one reader for both OTLP encodings (JSON and protobuf), so both map metadata alike.
// The metadata was validated at ingest (JSON grammar, UTF-8, depth): this reader only
// finds the members, bounds-checked, and stops at anything unexpected. The validating
// JsonScanner cost 4x as much here (and a heap allocation per span for its scratch deque).

#include <charconv>
#include <cstdint>
#include <string_view>

#include "protocol/encoder.hpp"
#include "protocol/json_scanner.hpp"

namespace tracecol::protocol {

/** What a metadata value becomes in OTLP's AnyValue. */
enum class MemberType {
  string,   // value: the string's content as written (escapes kept when escaped)
  integer,  // value: a JSON integer that fits int64
  number,   // value: any other JSON number a double holds
  boolean,  // value: "true" or "false"
  null,     // value: "null" (an empty AnyValue)
  array,    // value: the array's JSON text (an arrayValue; walk it with walk_json_value)
  object,   // value: the object's JSON text (a kvlistValue; walk it with walk_json_value)
  text,     // value: JSON text carried as a string (numbers no double holds)
};

/** One metadata member; key is the key's content as written (escapes kept when key_escaped). */
struct MetadataMember {
  std::string_view key;
  bool key_escaped = false;
  MemberType type = MemberType::text;
  std::string_view value;
  bool value_escaped = false;  // only for MemberType::string
  std::int64_t integer = 0;    // only for MemberType::integer: its value
};

namespace detail {

class MemberReader {
 public:
  MemberReader(const char* p, const char* end) : p_(p), end_(end) {}
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool eat(char c) {
    skip_ws();
    if (p_ >= end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  char peek() {
    skip_ws();
    return p_ < end_ ? *p_ : '\0';
  }
  /** At '"': the content as written (escapes kept), and whether it has escapes. */
  bool string(std::string_view& raw, bool& escaped) {
    if (!eat('"')) return false;
    const char* start = p_;
    escaped = false;
    for (;;) {
      // Valid string content holds no raw control byte: the stop is a quote or a backslash.
      p_ += json_escape_position(std::string_view(p_, static_cast<std::size_t>(end_ - p_)));
      if (p_ >= end_ || (*p_ != '"' && *p_ != '\\')) return false;
      if (*p_ == '"') break;
      escaped = true;
      p_ += 2;  // the escaped character; \uXXXX's hex digits hold no quote or backslash
    }
    raw = std::string_view(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return true;
  }
  /** Any value but a string; its text as written. Containers are skipped by bracket depth outside strings. */
  bool value(std::string_view& text) {
    skip_ws();
    const char* start = p_;
    if (p_ >= end_) return false;
    if (*p_ == '{' || *p_ == '[') {
      std::size_t depth = 0;
      do {
        if (p_ >= end_) return false;
        const char c = *p_;
        if (c == '"') {
          std::string_view raw;
          bool escaped;
          if (!string(raw, escaped)) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') --depth;
        ++p_;
      } while (depth > 0);
    } else {
      while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ' && *p_ != '\t' && *p_ != '\n' &&
             *p_ != '\r')
        ++p_;
    }
    text = std::string_view(start, static_cast<std::size_t>(p_ - start));
    return !text.empty();
  }

 private:
  const char* p_;
  const char* end_;
};

/** A JSON integer that fits int64 (the only numbers OTLP's intValue carries): its value in v. */
inline bool parse_integer(std::string_view token, std::int64_t& v) {
  // Up to 18 digits cannot overflow: the common case, without from_chars' generality.
  const bool negative = !token.empty() && token.front() == '-';
  const std::string_view digits = token.substr(negative ? 1 : 0);
  if (!digits.empty() && digits.size() <= 18) {
    std::int64_t n = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return false;  // a fraction or an exponent: not an integer
      n = n * 10 + (c - '0');
    }
    v = negative ? -n : n;
    return true;
  }
  const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  return ec == std::errc() && ptr == token.data() + token.size();
}

/** Reads the value at the reader into m (value, type; key untouched); containers whole, as text. */
[[gnu::always_inline]] inline bool read_member_value(MemberReader& in, MetadataMember& m) {
  if (in.peek() == '"') {
    if (!in.string(m.value, m.value_escaped)) return false;
    m.type = MemberType::string;
    return true;
  }
  if (!in.value(m.value)) return false;
  const char c = m.value.front();
  if (c == '-' || (c >= '0' && c <= '9')) {
    m.type = parse_integer(m.value, m.integer)   ? MemberType::integer
             : JsonScanner::fits_double(m.value) ? MemberType::number
                                                 : MemberType::text;
  } else if (m.value == "true" || m.value == "false") {
    m.type = MemberType::boolean;
  } else if (c == '[') {
    m.type = MemberType::array;
  } else if (c == '{') {
    m.type = MemberType::object;
  } else {
    m.type = MemberType::null;
  }
  return true;
}

}  // namespace detail

/**
 * Whether a (validated) metadata object may hold an array or an object below its top:
 * the encoders' bounds grow for nested values only then. A '[' or '{' inside a string
 * also says yes (the bound is only larger); two memchr.
 */
inline bool may_nest(std::string_view metadata) {
  return metadata.find('[') != std::string_view::npos || metadata.find('{', 1) != std::string_view::npos;
}

/** Calls visit(const MetadataMember&) for each top-level member of the (validated) metadata object, in order. */
template <typename Visit>
void for_each_metadata_member(std::string_view metadata, Visit&& visit) {
  detail::MemberReader in(metadata.data(), metadata.data() + metadata.size());
  if (!in.eat('{') || in.peek() == '}') return;
  for (;;) {
    MetadataMember m;
    if (!in.string(m.key, m.key_escaped) || !in.eat(':')) return;
    if (!detail::read_member_value(in, m)) return;
    visit(static_cast<const MetadataMember&>(m));
    if (!in.eat(',')) return;
  }
}

/**
 * Walks a (validated) array or object value depth-first, as OTLP's arrayValue and
 * kvlistValue nest: out.begin(is_object), out.key(raw, escaped) before each member's
 * value and out.member_end() after it, out.scalar(const MetadataMember&) for every
 * other value (never array/object), out.end(is_object), and out.comma() between
 * elements or members (raw: a key's content as written). A container nested deeper than
 * max_nesting (the value itself is level 1) is not walked into: out.scalar() gets it whole,
 * as MemberType::text (its JSON text). The depth is the
 * one ingest allowed (at most 64), so the recursion is bounded. False on anything
 * unexpected; what was written so far then stands, cut short.
 */
template <typename Out>
bool walk_json_value(std::string_view json, Out& out, std::size_t max_nesting = static_cast<std::size_t>(-1)) {
  detail::MemberReader in(json.data(), json.data() + json.size());
  struct Walk {
    detail::MemberReader& in;
    Out& out;
    std::size_t max_nesting;
    std::size_t level = 0;
    bool value() {
      const char open = in.peek();
      if (open != '[' && open != '{') {
        MetadataMember m;
        return detail::read_member_value(in, m) && (out.scalar(static_cast<const MetadataMember&>(m)), true);
      }
      if (level >= max_nesting) {
        MetadataMember m;
        if (!in.value(m.value)) return false;
        m.type = MemberType::text;
        out.scalar(static_cast<const MetadataMember&>(m));
        return true;
      }
      ++level;
      const bool ok = container(open);
      --level;
      return ok;
    }
    bool container(char open) {
      const bool object = open == '{';
      const char close = object ? '}' : ']';
      in.eat(open);
      out.begin(object);
      if (in.peek() == close) return in.eat(close), out.end(object), true;
      for (bool first = true;; first = false) {
        if (!first) out.comma();
        if (object) {
          std::string_view key;
          bool escaped = false;
          if (!in.string(key, escaped) || !in.eat(':')) return false;
          out.key(key, escaped);
        }
        if (!value()) return false;
        if (object) out.member_end();
        if (in.eat(',')) continue;
        if (!in.eat(close)) return false;
        out.end(object);
        return true;
      }
    }
  };
  return Walk{in, out, max_nesting}.value();
}

}  // namespace tracecol::protocol
