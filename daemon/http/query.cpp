#include "daemon/http/query.hpp"

#include <charconv>
#include <cmath>

#include <boost/beast/core/string.hpp>

#include "protocol/span.hpp"
#include "protocol/text_bytes.hpp"

namespace tracecol::http {
namespace {

/** A finite, non-negative decimal number; nullopt otherwise. */
std::optional<double> parse_number(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

/** Epoch seconds as nanoseconds, refusing values past int64 (year 2262). */
std::optional<std::int64_t> epoch_ns(std::string_view s) {
  auto v = parse_number(s);
  if (!v || *v > 9.2e9) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(*v * 1e9));
}

/**
 * A path segment that reads ".." once decoded ("..", "%2e%2e", ".%2E"): a traversal
 * whatever the router makes of it. Any other segment with dots in it ("a..b") is a name.
 */
bool is_dot_dot_segment(std::string_view raw_segment) {
  if (raw_segment.size() > 6) return false;  // "%2e%2e" is the longest spelling
  const auto decoded = percent_decode(raw_segment, false);
  return decoded && *decoded == "..";
}

}  // namespace

const std::string* Target::param(std::string_view name) const {
  const std::string* found = nullptr;
  for (const auto& [k, v] : params) {
    if (k == name) found = &v;
  }
  return found;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  // Most paths and values hold nothing to decode: one copy instead of a push per byte
  // (that loop was a tenth of a cached GET /api/traces/{id}'s user-space instructions).
  if (s.find_first_of(plus_is_space ? std::string_view("%+\0", 3) : std::string_view("%\0", 2)) ==
      std::string_view::npos)
    return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = protocol::hex_digit(s[i + 1]);
      const int lo = protocol::hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out += c;
  }
  return out;
}

/**
 * RFC 9112 §3.2.2: a server takes the absolute form ("http://host:port/path?q") that
 * proxies and some clients send; only its path and query are ours to route.
 */
std::string_view origin_form(std::string_view target) {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() < scheme.size() || !boost::beast::iequals(target.substr(0, scheme.size()), scheme)) continue;
    const std::string_view rest = target.substr(scheme.size());
    const std::size_t path = rest.find_first_of("/?");
    if (path == std::string_view::npos) return "/";
    // "http://host?q" (an empty path with a query) is left to fail as a bad target.
    return rest[path] == '/' ? rest.substr(path) : std::string_view{};
  }
  return target;
}

Parsed<Target> parse_target(std::string_view target) {
  target = origin_form(target);
  if (target.empty() || target.front() != '/') return Parsed<Target>::fail("request target must start with '/'");
  if (target.find('\0') != std::string_view::npos) return Parsed<Target>::fail("request target holds a NUL byte");
  const std::size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  std::string_view raw_query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  if (const std::size_t hash = raw_query.find('#'); hash != std::string_view::npos) raw_query = raw_query.substr(0, hash);

  // Only a whole ".." segment of the path is a traversal. The query is data: the UI's search
  // box sends q=Loading... and a span may be named a..b.
  for (std::string_view rest = raw_path.substr(1);;) {
    const std::size_t slash = rest.find('/');
    if (is_dot_dot_segment(rest.substr(0, slash))) return Parsed<Target>::fail("request path holds a '..' segment");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  Target out;
  auto path = percent_decode(raw_path, false);
  if (!path) return Parsed<Target>::fail("bad percent-escape or NUL in path");
  out.path = std::move(*path);
  out.raw_path = std::string(raw_path);
  while (!raw_query.empty()) {
    const std::size_t amp = raw_query.find('&');
    std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view{} : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) return Parsed<Target>::fail("bad percent-escape or NUL in query");
    out.params.emplace_back(std::move(*key), std::move(*value));
  }
  return {std::move(out), {}};
}

Parsed<store::TraceFilter> parse_filter(const Target& target) {
  using P = Parsed<store::TraceFilter>;
  store::TraceFilter f;
  if (const auto* v = target.param("run_id")) f.run_id = *v;
  if (const auto* v = target.param("name")) f.name = *v;
  if (const auto* v = target.param("kind")) {
    f.kind = protocol::parse_span_kind(*v);
    if (!f.kind) return P::fail("kind: expected AGENT, TOOL, LLM, CHAIN, TEAM or CUSTOM");
  }
  if (const auto* v = target.param("error")) {
    if (*v == "true") f.has_error = true;
    else if (*v == "false") f.has_error = false;
    else return P::fail("error: expected true or false");
  }
  if (const auto* v = target.param("min_duration_ms")) {
    f.min_duration_ms = parse_number(*v);
    if (!f.min_duration_ms) return P::fail("min_duration_ms: expected a non-negative number");
  }
  if (const auto* v = target.param("since")) {
    auto ns = epoch_ns(*v);
    if (!ns) return P::fail("since: expected epoch seconds");
    f.since_ns = *ns;
  }
  if (const auto* v = target.param("until")) {
    auto ns = epoch_ns(*v);
    if (!ns) return P::fail("until: expected epoch seconds");
    f.until_ns = *ns;
  }
  if (const auto* v = target.param("q")) f.q = *v;
  constexpr std::string_view meta_prefix = "meta.";
  for (const auto& [key, value] : target.params) {
    if (!key.starts_with(meta_prefix)) continue;
    if (key.size() == meta_prefix.size()) return P::fail("meta.KEY: the key is empty");
    if (f.meta.size() >= max_meta_filters)
      return P::fail("meta.KEY: at most " + std::to_string(max_meta_filters) + " metadata filters");
    f.meta.emplace_back(key.substr(meta_prefix.size()), value);
  }
  return {std::move(f), {}};
}

Parsed<ListQuery> parse_list_query(const Target& target) {
  using P = Parsed<ListQuery>;
  auto filter = parse_filter(target);
  if (!filter.value) return P::fail(std::move(filter.error));
  ListQuery q;
  q.filter = std::move(*filter.value);
  q.filter.limit = default_list_limit;
  if (const auto* v = target.param("limit")) {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || ptr != v->data() + v->size() || v->empty() || n < 1 || n > max_list_limit)
      return P::fail("limit: expected an integer from 1 to " + std::to_string(max_list_limit));
    q.filter.limit = n;
  }
  if (const auto* v = target.param("cursor")) {
    q.cursor = protocol::parse_trace_id(*v);
    if (!q.cursor) return P::fail("cursor: expected a next_cursor value");
  }
  return {std::move(q), {}};
}

Parsed<StreamQuery> parse_stream_query(const Target& target) {
  using P = Parsed<StreamQuery>;
  auto filter = parse_filter(target);
  if (!filter.value) return P::fail(std::move(filter.error));
  StreamQuery q;
  q.filter = std::move(*filter.value);
  if (const auto* v = target.param("events")) {
    q.spans = false;
    q.traces = false;
    std::string_view rest = *v;
    for (;;) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      if (item == "span") q.spans = true;
      else if (item == "trace") q.traces = true;
      else return P::fail("events: expected a comma list of span and trace");
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  return {std::move(q), {}};
}

}  // namespace tracecol::http
