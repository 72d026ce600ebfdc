#pragma once
// JSON text without a JSON library: correct string escaping and a small object builder.

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace tracecol::client {

/**
 * Appends `s` as a JSON string (quotes included). Control characters, `"` and `\` are
 * escaped; invalid UTF-8 (stray or truncated sequences, overlongs, surrogates, anything
 * past U+10FFFF) becomes U+FFFD, one per offending byte, so the daemon accepts every line.
 */
void append_json_string(std::string& out, std::string_view s);

/** Appends a finite double as JSON; NaN and infinities become null, subnormals 0 (the daemon refuses exponents past ±308). */
void append_json_double(std::string& out, double v);

/**
 * A JSON object under construction (`{}` when empty), or one the caller already encoded
 * (`JsonObject::raw`). Raw text is trusted: it must be one JSON object. Not thread-safe;
 * a value type.
 */
class JsonObject {
 public:
  JsonObject() = default;
  /** Already-encoded object text, sent as given. */
  static JsonObject raw(std::string object_text);

  JsonObject& add(std::string_view key, std::string_view value);
  JsonObject& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonObject& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  JsonObject& add(std::string_view key, bool value);
  JsonObject& add(std::string_view key, double value);
  JsonObject& add(std::string_view key, float value) { return add(key, static_cast<double>(value)); }
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  JsonObject& add(std::string_view key, T value) {
    if constexpr (std::signed_integral<T>) return add_int(key, static_cast<std::int64_t>(value));
    else return add_uint(key, static_cast<std::uint64_t>(value));
  }
  JsonObject& add_null(std::string_view key);
  /** `value` is already-encoded JSON (an object, array, number...), trusted as given. */
  JsonObject& add_raw(std::string_view key, std::string_view json_value);
  JsonObject& add(std::string_view key, const JsonObject& nested) { return add_raw(key, nested.text()); }

  bool empty() const { return body_.empty() && !is_raw_; }
  /** The object text: `{...}`. */
  std::string text() const;
  /** Appends the object text to out. */
  void append_to(std::string& out) const;

 private:
  JsonObject& add_int(std::string_view key, std::int64_t v);
  JsonObject& add_uint(std::string_view key, std::uint64_t v);
  void key(std::string_view k);

  std::string body_;  // members without braces, or the whole raw text
  bool is_raw_ = false;
};

}  // namespace tracecol::client
