#include "protocol/trace_tree.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <unordered_map>

namespace tracecol::protocol {
namespace {

/** Appends text with control characters (C0, DEL, C1) shown as escapes: no terminal tricks. */
void append_printable(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    char buf[8];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(text[i + 1]));
      out += buf;
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace

std::vector<TreeRow> tree_order(const Trace& trace) {
  const auto& spans = trace.spans;
  const std::size_t n = spans.size();
  std::unordered_map<SpanId, std::size_t> index;
  index.reserve(n);
  // The first copy of a repeated span_id is the one children attach to.
  for (std::size_t i = 0; i < n; ++i) index.emplace(spans[i].span_id, i);
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> parent(n, none);  // index of the parent span, or none for a root
  std::vector<bool> orphan(n, false);
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < n; ++i) {
    const SpanId p = spans[i].parent_id;
    if (p == 0) {
      roots.push_back(i);
      continue;
    }
    auto it = index.find(p);
    if (it == index.end()) {
      roots.push_back(i);
      // A follow-up record holds only late spans: their parents were in the first record,
      // and whether one was never seen is the span's own flag (set against the whole trace).
      orphan[i] = !trace.follow_up;
    } else {
      parent[i] = it->second;
    }
  }
  // Whatever no root reaches hangs off a parent cycle. Each cycle is found by walking up
  // from an unreached span (every step is new or closes the cycle: O(n) in all) and is
  // broken at its earliest-starting member, which becomes an orphan root.
  auto earlier = [&](std::size_t a, std::size_t b) {
    return spans[a].started_at_ns != spans[b].started_at_ns ? spans[a].started_at_ns < spans[b].started_at_ns : a < b;
  };
  std::vector<std::uint8_t> state(n, 0);  // 0 unknown, 1 on the current walk, 2 settled
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t j = i;
    while (j != none && state[j] == 0) {
      state[j] = 1;
      j = parent[j];
    }
    const bool cycle = j != none && state[j] == 1;
    for (std::size_t k = i; k != none && state[k] == 1; k = parent[k]) state[k] = 2;
    if (cycle) {
      std::size_t first = j;
      for (std::size_t k = parent[j]; k != j; k = parent[k])
        if (earlier(k, first)) first = k;
      parent[first] = none;
      orphan[first] = true;
      roots.push_back(first);
    }
  }
  std::vector<std::vector<std::size_t>> children(n);
  for (std::size_t i = 0; i < n; ++i)
    if (parent[i] != none) children[parent[i]].push_back(i);
  for (auto& c : children) std::sort(c.begin(), c.end(), earlier);
  std::sort(roots.begin(), roots.end(), earlier);

  std::vector<TreeRow> rows;
  rows.reserve(n);
  std::vector<std::pair<std::size_t, int>> stack;  // explicit: a 100k-deep chain must not recurse
  for (std::size_t r : roots) {
    stack.push_back({r, 0});
    while (!stack.empty()) {
      const auto [i, depth] = stack.back();
      stack.pop_back();
      rows.push_back({i, depth, orphan[i]});
      // Reversed so the earliest child is popped first.
      for (auto it = children[i].rbegin(); it != children[i].rend(); ++it) stack.push_back({*it, depth + 1});
    }
  }
  return rows;
}

std::string as_tree(const Trace& trace) {
  std::string out;
  for (const TreeRow& row : tree_order(trace)) {
    const Span& span = trace.spans[row.index];
    // Unbounded indentation made the text quadratic in a chain's length (a 10,000-deep
    // chain: 100 MB). Past the cap the indent stays put and the line names its depth.
    out.append(static_cast<std::size_t>(std::min(row.depth, tree_indent_cap)) * 2, ' ');
    if (row.depth > tree_indent_cap) {
      char buf[24];
      std::snprintf(buf, sizeof buf, "[depth %d] ", row.depth);
      out += buf;
    }
    append_printable(out, span.name);
    if (span.ended()) {
      char buf[32];
      const double ms = static_cast<double>(std::llround(*span.duration_ms()));
      std::snprintf(buf, sizeof buf, " [%.0fms]", ms);
      out += buf;
    } else {
      out += " [running]";
    }
    if (span.has_error()) {
      out += " ERROR: ";
      append_printable(out, span.error);
    }
    if (row.orphan || span.orphan) out += " (orphan)";
    out += '\n';
  }
  return out;
}

std::string tree_header(const Trace& trace) {
  char hex[40];
  if (trace.trace_id.hi != 0) {
    std::snprintf(hex, sizeof hex, "%08" PRIx64, trace.trace_id.hi >> 32);
  } else {
    // A short (left-padded) id prints as the agent wrote it: its first 8 significant digits.
    std::snprintf(hex, sizeof hex, "%08" PRIx64, trace.trace_id.lo);
    hex[8] = '\0';
  }
  std::string out = "[Trace ";
  out += hex;
  out += ']';
  if (!trace.run_id.empty()) {
    out += " run_id=";
    append_printable(out, trace.run_id);
  }
  return out;
}

}  // namespace tracecol::protocol
