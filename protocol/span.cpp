#include "protocol/span.hpp"

#include <algorithm>
#include <array>

namespace tracecol::protocol {
namespace {

constexpr std::array<std::string_view, 6> kind_names = {"AGENT", "TOOL", "LLM", "CHAIN", "TEAM", "CUSTOM"};

/**
 * Heap bytes a string owns beyond the object itself (0 while it fits the SSO buffer): its
 * malloc chunk, capacity + 1 plus glibc's 8-byte header rounded up to 16.
 */
std::size_t heap_bytes(const std::string& s) {
  return s.capacity() > 15 ? (s.capacity() + 1 + 8 + 15) & ~std::size_t{15} : 0;
}

}  // namespace

std::string_view to_string(SpanKind kind) { return kind_names[static_cast<std::size_t>(kind)]; }

std::optional<SpanKind> parse_span_kind(std::string_view text) {
  // Python agents may send str(SpanKind.TOOL): accept the enum prefix too.
  constexpr std::string_view prefix = "spankind.";
  if (text.size() > prefix.size() &&
      std::equal(prefix.begin(), prefix.end(), text.begin(),
                 [](char a, char b) { return a == (b | 0x20); })) {
    text.remove_prefix(prefix.size());
  }
  for (std::size_t i = 0; i < kind_names.size(); ++i) {
    const std::string_view name = kind_names[i];
    if (text.size() == name.size() &&
        std::equal(name.begin(), name.end(), text.begin(),
                   [](char a, char b) { return a == (b >= 'a' && b <= 'z' ? b - 32 : b); })) {
      return static_cast<SpanKind>(i);
    }
  }
  return std::nullopt;
}

std::optional<double> Span::duration_ms() const {
  if (!ended()) return std::nullopt;
  std::int64_t ns = 0;
  // Exact for any real span; only hostile times far apart fall back to double arithmetic.
  if (__builtin_sub_overflow(ended_at_ns, started_at_ns, &ns))
    return (static_cast<double>(ended_at_ns) - static_cast<double>(started_at_ns)) / 1e6;
  return static_cast<double>(ns) / 1e6;
}

std::size_t Span::footprint() const {
  return sizeof(Span) + heap_bytes(run_id) + heap_bytes(name) + heap_bytes(inputs) + heap_bytes(outputs) +
         heap_bytes(error) + heap_bytes(metadata);
}

std::int64_t Trace::started_at_ns() const {
  std::int64_t first = 0;
  for (const Span& s : spans) {
    // A span known only from its span_end has no start yet: it does not count.
    if (s.started_at_ns != 0 && (first == 0 || s.started_at_ns < first)) first = s.started_at_ns;
  }
  return first;
}

std::int64_t Trace::ended_at_ns() const {
  std::int64_t last = 0;
  for (const Span& s : spans) {
    if (!s.ended()) return 0;
    last = std::max(last, s.ended_at_ns);
  }
  return last;
}

std::size_t Trace::error_count() const {
  return static_cast<std::size_t>(std::count_if(spans.begin(), spans.end(), [](const Span& s) { return s.has_error(); }));
}

}  // namespace tracecol::protocol
