// The store filter as predicates, shared by TraceStore::find() and the live stream.

#include <algorithm>
#include <string>

#include "daemon/store/trace_store.hpp"
#include "protocol/json_scanner.hpp"

namespace tracecol::store {
namespace {

using protocol::Span;
using protocol::Trace;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

/**
 * A walk over the top level of a JSON object that was validated on ingest: strings are
 * skipped by their quotes and escapes, containers by bracket depth. Every step is
 * bounds-checked, so malformed text ends the walk (false) instead of reading past it.
 */
class TopLevel {
 public:
  explicit TopLevel(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  /** Positions after '{'; false when the text is not an object. */
  bool open() {
    skip_ws();
    if (p_ == end_ || *p_ != '{') return false;
    ++p_;
    return true;
  }

  /** The next member: raw key content (escaped tells if it holds '\\'), and the value text. */
  bool next(std::string_view& key, bool& key_escaped, std::string_view& value) {
    skip_ws();
    if (p_ < end_ && *p_ == ',') ++p_;
    skip_ws();
    if (p_ == end_ || *p_ != '"') return false;  // '}' or malformed: no more members
    if (!string(key, key_escaped)) return false;
    skip_ws();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    skip_ws();
    const char* start = p_;
    if (!skip_value()) return false;
    value = std::string_view(start, static_cast<std::size_t>(p_ - start));
    return true;
  }

 private:
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  /** p_ at '"': content between the quotes; p_ after the closing quote. */
  bool string(std::string_view& content, bool& escaped) {
    const char* start = ++p_;
    escaped = false;
    while (p_ < end_ && *p_ != '"') {
      if (*p_ == '\\') {
        escaped = true;
        ++p_;
        if (p_ == end_) return false;
      }
      ++p_;
    }
    if (p_ == end_) return false;
    content = std::string_view(start, static_cast<std::size_t>(p_ - start));
    ++p_;
    return true;
  }

  /** p_ at a value's first char; p_ after it. */
  bool skip_value() {
    if (p_ == end_) return false;
    std::string_view ignored;
    bool escaped = false;
    if (*p_ == '"') return string(ignored, escaped);
    if (*p_ == '{' || *p_ == '[') {
      std::size_t depth = 0;
      while (p_ < end_) {
        const char c = *p_;
        if (c == '"') {
          if (!string(ignored, escaped)) return false;
          continue;
        }
        ++p_;
        if (c == '{' || c == '[') {
          ++depth;
        } else if ((c == '}' || c == ']') && --depth == 0) {
          return true;
        }
      }
      return false;
    }
    const char* start = p_;  // a number or a literal: up to the next delimiter
    while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ' && *p_ != '\t' && *p_ != '\n' &&
           *p_ != '\r')
      ++p_;
    return p_ > start;
  }

  const char* p_;
  const char* end_;
};

bool text_equals(std::string_view raw, bool escaped, std::string_view expected) {
  if (!escaped) return raw == expected;
  std::string decoded;
  protocol::JsonScanner::unescape(raw, decoded);
  return decoded == expected;
}

template <class Pred>
bool any_span(const Trace& t, Pred pred) {
  return std::any_of(t.spans.begin(), t.spans.end(), pred);
}

/**
 * meta.KEY=VALUE against a span as every answer renders it: a socket span's peer.pid and
 * peer.uid are members of its metadata on output (spliced in there, stored apart), so
 * meta.peer.pid=4242 finds the spans of that agent process.
 */
bool span_metadata_has(const Span& s, std::string_view key, std::string_view value) {
  if (s.has_peer && (key == protocol::peer_pid_key || key == protocol::peer_uid_key)) {
    const std::string rendered =
        key == protocol::peer_pid_key ? std::to_string(s.peer_pid) : std::to_string(s.peer_uid);
    return rendered == value;
  }
  return metadata_has(s.metadata, key, value);
}

}  // namespace

bool metadata_has(std::string_view metadata_json, std::string_view key, std::string_view value) {
  TopLevel walk(metadata_json);
  if (!walk.open()) return false;
  std::string_view k;
  std::string_view v;
  bool key_escaped = false;
  while (walk.next(k, key_escaped, v)) {
    if (!text_equals(k, key_escaped, key)) continue;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
      const std::string_view content = v.substr(1, v.size() - 2);
      return text_equals(content, content.find('\\') != std::string_view::npos, value);
    }
    return v == value;  // keys are unique (the decoder refuses duplicates): the first is the one
  }
  return false;
}

bool span_contains_text(const Span& s, std::string_view q) {
  if (q.empty()) return true;
  return contains(s.name, q) || (s.has_error() && contains(s.error, q)) || contains(s.inputs, q) ||
         contains(s.outputs, q) || contains(s.metadata, q);
}

bool span_matches(const Span& s, const TraceFilter& f) {
  if (!f.run_id.empty() && s.run_id != f.run_id) return false;
  if (s.started_at_ns < f.since_ns || s.started_at_ns > f.until_ns) return false;
  if (f.has_error && s.has_error() != *f.has_error) return false;
  if (f.min_duration_ms) {
    const auto d = s.duration_ms();
    if (!d || *d < *f.min_duration_ms) return false;
  }
  if (!f.name.empty() && s.name != f.name) return false;
  if (f.kind && s.kind != *f.kind) return false;
  if (!span_contains_text(s, f.q)) return false;
  for (const auto& [key, value] : f.meta) {
    if (!span_metadata_has(s, key, value)) return false;
  }
  return true;
}

bool trace_matches(const Trace& t, const TraceFilter& f) {
  if (!f.run_id.empty() && t.run_id != f.run_id) return false;
  const std::int64_t start = t.started_at_ns();
  if (start < f.since_ns || start > f.until_ns) return false;
  if (f.has_error && (t.error_count() > 0) != *f.has_error) return false;
  if (f.min_duration_ms) {
    const std::int64_t end = t.ended_at_ns();
    if (end == 0 || static_cast<double>(end - start) / 1e6 < *f.min_duration_ms) return false;
  }
  if (!f.name.empty() && !any_span(t, [&](const Span& s) { return s.name == f.name; })) return false;
  if (f.kind && !any_span(t, [&](const Span& s) { return s.kind == *f.kind; })) return false;
  if (!f.q.empty() && !any_span(t, [&](const Span& s) { return span_contains_text(s, f.q); })) return false;
  for (const auto& pair : f.meta) {  // not a structured binding: clang 14 (fuzz build) cannot capture one
    if (!any_span(t, [&](const Span& s) { return span_metadata_has(s, pair.first, pair.second); })) return false;
  }
  return true;
}

}  // namespace tracecol::store
