#pragma once
// Request-target parsing for the HTTP API: path and query split, percent-decoding, and
// the /api/traces query parameters turned into a store::TraceFilter. Untrusted input:
// nothing here throws; every failure is a message for a 400.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/store/trace_store.hpp"
#include "protocol/ids.hpp"

namespace tracecol::http {

/** A request target split into its decoded path and decoded query parameters (in order). */
struct Target {
  std::string raw_path;  // as sent, escapes kept: what route() matches (an escaped '/' is no separator)
  std::string path;      // decoded
  std::vector<std::pair<std::string, std::string>> params;

  /** The last value of `name`, or nullptr. */
  const std::string* param(std::string_view name) const;
};

/** A parse result: the value, or the reason it was refused (for a 400 body). */
template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;
  static Parsed fail(std::string why) { return {std::nullopt, std::move(why)}; }
};

/**
 * Splits and percent-decodes a request target ("/api/traces?limit=5"). Refuses a target
 * that is not origin-form, whose path has a ".." segment (raw or %2e%2e), a NUL (raw or
 * %00), or a bad %-escape. Dots anywhere else, the query included, are plain text.
 */
Parsed<Target> parse_target(std::string_view target);

/** Percent-decodes s ('+' becomes a space when plus_is_space); nullopt on a bad escape or NUL. */
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

inline constexpr std::size_t default_list_limit = 20;
inline constexpr std::size_t max_list_limit = 1000;
inline constexpr std::size_t max_meta_filters = 16;

/** The /api/traces query: the store filter plus the page cursor. */
struct ListQuery {
  store::TraceFilter filter;             // filter.limit is the page size
  std::optional<protocol::TraceId> cursor;  // continue after this trace (a next_cursor)
};

/**
 * Reads limit (1..1000, default 20), run_id, name, kind, error=true|false,
 * min_duration_ms, since/until (epoch seconds), q (substring), meta.KEY=VALUE
 * (repeatable, every pair must match) and cursor (a trace id). Unknown parameters are
 * ignored.
 */
Parsed<ListQuery> parse_list_query(const Target& target);

/** The filter parameters shared by /api/traces and /api/stream (no limit, no cursor). */
Parsed<store::TraceFilter> parse_filter(const Target& target);

/** GET /api/stream: the filter plus which events to send. */
struct StreamQuery {
  store::TraceFilter filter;  // filter.limit is unused
  bool spans = true;          // "event: span" for each finished span
  bool traces = true;         // "event: trace" for each finished trace
};

/**
 * The filters of parse_filter plus events=span,trace (a comma list; default both; an
 * unknown or empty list is refused). limit and cursor are ignored.
 */
Parsed<StreamQuery> parse_stream_query(const Target& target);

}  // namespace tracecol::http
