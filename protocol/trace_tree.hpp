#pragma once
// Tree order for a trace's spans and the seed's as_tree() text. Spans whose parent is
// absent (orphans) and spans caught in a parent cycle are placed at the root, marked
// orphan; nothing here can loop forever on hostile parent links.

#include <cstddef>
#include <string>
#include <vector>

#include "protocol/span.hpp"

namespace tracecol::protocol {

struct TreeRow {
  std::size_t index;  // into trace.spans
  int depth;          // 0 for roots and orphans
  bool orphan;        // parent_id set but not a reachable span of this trace
};

/** Depth-first order; siblings by started_at, then arrival. O(n log n), iterative. */
std::vector<TreeRow> tree_order(const Trace& trace);

/** Deepest level as_tree indents; the web UI's waterfall stops at the same depth. */
inline constexpr int tree_indent_cap = 24;

/**
 * The seed's hierarchy: one line per span, two spaces per level, "name [142ms]";
 * open spans "[running]", errors " ERROR: message", orphans " (orphan)". Control
 * characters in names and messages are escaped so a span cannot drive the terminal.
 * A span deeper than tree_indent_cap is indented as at the cap and its line starts
 * "[depth N] " (N its depth, 0 for a root), so the text stays linear in the trace's size.
 */
std::string as_tree(const Trace& trace);

/** "[Trace 3a7f1c2b] run_id=run-42" — the console exporter's header line. */
std::string tree_header(const Trace& trace);

}  // namespace tracecol::protocol
