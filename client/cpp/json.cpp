#include "client/cpp/json.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace tracecol::client {

namespace {

constexpr char replacement[] = "\xEF\xBF\xBD";  // U+FFFD

/** Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0 when invalid. */
std::size_t utf8_sequence(const unsigned char* p, std::size_t left) {
  const unsigned char c = p[0];
  auto cont = [&](std::size_t i) { return i < left && (p[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && p[1] > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[1] > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

bool plain(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\' && c < 0x80; }

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    std::size_t run = i;
    while (run < n && plain(p[run])) ++run;
    out.append(s.data() + i, run - i);
    i = run;
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const std::size_t len = utf8_sequence(p + i, n - i);
      if (len == 0) {
        out += replacement;
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        out.append(esc, sizeof esc);
      }
    }
    ++i;
  }
  out += '"';
}

void append_json_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (std::fpclassify(v) == FP_SUBNORMAL) v = 0.0;
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

JsonObject JsonObject::raw(std::string object_text) {
  JsonObject o;
  o.body_ = std::move(object_text);
  o.is_raw_ = true;
  return o;
}

void JsonObject::key(std::string_view k) {
  if (is_raw_) {
    // Adding to caller-encoded text: reopen the object before its closing brace.
    const std::size_t close = body_.rfind('}');
    std::string inner = close == std::string::npos ? std::string() : body_.substr(0, close);
    const std::size_t open = inner.find('{');
    inner = open == std::string::npos ? std::string() : inner.substr(open + 1);
    const bool has_members = inner.find_first_not_of(" \t\r\n") != std::string::npos;
    body_ = std::move(inner);
    if (has_members) {
      while (!body_.empty() && (body_.back() == ' ' || body_.back() == '\n' || body_.back() == '\t' || body_.back() == '\r'))
        body_.pop_back();
    } else {
      body_.clear();
    }
    is_raw_ = false;
  }
  if (!body_.empty()) body_ += ',';
  append_json_string(body_, k);
  body_ += ':';
}

JsonObject& JsonObject::add(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(body_, value);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, double value) {
  key(k);
  append_json_double(body_, value);
  return *this;
}

JsonObject& JsonObject::add_int(std::string_view k, std::int64_t v) {
  key(k);
  char buf[24];
  body_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  return *this;
}

JsonObject& JsonObject::add_uint(std::string_view k, std::uint64_t v) {
  key(k);
  char buf[24];
  body_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  return *this;
}

JsonObject& JsonObject::add_null(std::string_view k) {
  key(k);
  body_ += "null";
  return *this;
}

JsonObject& JsonObject::add_raw(std::string_view k, std::string_view json_value) {
  key(k);
  body_.append(json_value.empty() ? std::string_view("null") : json_value);
  return *this;
}

void JsonObject::append_to(std::string& out) const {
  if (is_raw_) {
    out += body_.empty() ? std::string_view("{}") : std::string_view(body_);
    return;
  }
  out += '{';
  out += body_;
  out += '}';
}

std::string JsonObject::text() const {
  std::string out;
  out.reserve(body_.size() + 2);
  append_to(out);
  return out;
}

}  // namespace tracecol::client
