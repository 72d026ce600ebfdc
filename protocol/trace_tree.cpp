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
  for (std::size_t i = 0; i < n; ++i) index.emplace(spans[i].span_id, i);

  auto earlier = [&](std::size_t a, std::size_t b) {
    return spans[a].started_at_ns != spans[b].started_at_ns ? spans[a].started_at_ns < spans[b].started_at_ns : a < b;
  };
  // Children as index lists; a span whose parent is missing (or itself) is a root.
  std::vector<std::vector<std::size_t>> children(n);
  std::vector<std::size_t> roots;
  std::vector<bool> orphan(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    const SpanId parent = spans[i].parent_id;
    auto it = parent == 0 ? index.end() : index.find(parent);
    if (parent == 0) {
      roots.push_back(i);
    } else if (it == index.end() || it->second == i) {
      roots.push_back(i);
      orphan[i] = true;
    } else {
      children[it->second].push_back(i);
    }
  }
  for (auto& c : children) std::sort(c.begin(), c.end(), earlier);
  std::sort(roots.begin(), roots.end(), earlier);

  std::vector<TreeRow> rows;
  rows.reserve(n);
  std::vector<bool> visited(n, false);
  std::vector<std::pair<std::size_t, int>> stack;
  auto walk = [&](std::size_t root) {
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto [i, depth] = stack.back();
      stack.pop_back();
      if (visited[i]) continue;
      visited[i] = true;
      rows.push_back({i, depth, orphan[i]});
      // Reverse so the earliest child is popped first.
      for (auto it = children[i].rbegin(); it != children[i].rend(); ++it) {
        if (!visited[*it]) stack.push_back({*it, depth + 1});
      }
    }
  };
  for (std::size_t r : roots) walk(r);
  if (rows.size() < n) {
    // What is left hangs off a parent cycle: break it at its earliest span, shown as orphan.
    std::vector<std::size_t> rest;
    for (std::size_t i = 0; i < n; ++i)
      if (!visited[i]) rest.push_back(i);
    std::sort(rest.begin(), rest.end(), earlier);
    for (std::size_t i : rest) {
      if (visited[i]) continue;
      orphan[i] = true;
      walk(i);
    }
  }
  return rows;
}

std::string as_tree(const Trace& trace) {
  std::string out;
  for (const TreeRow& row : tree_order(trace)) {
    const Span& span = trace.spans[row.index];
    out.append(static_cast<std::size_t>(row.depth) * 2, ' ');
    append_printable(out, span.name);
    if (span.ended()) {
      char buf[32];
      const double ms = std::llround(static_cast<double>(span.ended_at_ns - span.started_at_ns) / 1e6);
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
