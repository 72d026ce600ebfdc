#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "protocol/trace_tree.hpp"

using namespace tracecol::protocol;

namespace {

Span span(SpanId id, SpanId parent, const char* name, std::int64_t start_ms, std::int64_t end_ms) {
  Span s;
  s.span_id = id;
  s.parent_id = parent;
  s.name = std::string(name);  // not operator=(const char*): g++ 12 -Wrestrict false positive at -O2
  s.started_at_ns = 1732500000000000000LL + start_ms * 1000000;
  s.ended_at_ns = end_ms < 0 ? 0 : 1732500000000000000LL + end_ms * 1000000;
  return s;
}

Trace seed_trace() {
  Trace t;
  t.trace_id = *parse_trace_id("3a7f1c2b");
  t.run_id = "run-42";
  t.spans = {span(3, 1, "tool.fetch", 130, 142), span(1, 0, "agent.run", 0, 142), span(2, 1, "llm.complete", 0, 130)};
  return t;
}

}  // namespace

TEST_SUITE("trace tree") {
  TEST_CASE("prints the seed's console example") {
    Trace t = seed_trace();
    CHECK(tree_header(t) == "[Trace 3a7f1c2b] run_id=run-42");
    CHECK(as_tree(t) == "agent.run [142ms]\n  llm.complete [130ms]\n  tool.fetch [12ms]\n");
  }

  TEST_CASE("indents two spaces per level and marks errors and running spans") {
    Trace t;
    t.trace_id = *parse_trace_id("0123456789abcdef0123456789abcdef");
    t.spans = {span(1, 0, "a", 0, 10), span(2, 1, "b", 1, 9), span(3, 2, "c", 2, -1)};
    t.spans[1].error = "boom";
    t.spans[1].fields |= field_error;
    CHECK(tree_header(t) == "[Trace 01234567]");
    CHECK(as_tree(t) == "a [10ms]\n  b [8ms] ERROR: boom\n    c [running]\n");
  }

  TEST_CASE("puts orphans at the root, marked") {
    Trace t;
    t.spans = {span(1, 0, "root", 0, 5), span(2, 99, "lost", 1, 2)};
    auto rows = tree_order(t);
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].depth == 0);
    CHECK(rows[1].orphan);
    CHECK(as_tree(t) == "root [5ms]\nlost [1ms] (orphan)\n");
  }

  TEST_CASE("breaks parent cycles and self-parents instead of looping") {
    Trace t;
    t.spans = {span(1, 2, "a", 0, 1), span(2, 1, "b", 1, 2), span(3, 3, "self", 2, 3)};
    auto rows = tree_order(t);
    CHECK(rows.size() == 3);
    // Each cycle is broken at its earliest member, which sorts among the other roots.
    CHECK(as_tree(t) == "a [1ms] (orphan)\n  b [1ms]\nself [1ms] (orphan)\n");
  }

  TEST_CASE("breaks a cycle at its earliest member even when a span hanging off it starts earlier") {
    Trace t;
    // 1 -> 2 -> 3 -> 1 is the cycle; 4 hangs off 3 and starts first of all.
    t.spans = {span(1, 3, "c1", 20, 30), span(2, 1, "c2", 10, 30), span(3, 2, "c3", 15, 30), span(4, 3, "leaf", 0, 5)};
    CHECK(as_tree(t) == "c2 [20ms] (orphan)\n  c3 [15ms]\n    leaf [5ms]\n    c1 [10ms]\n");
  }

  TEST_CASE("prints a three-level chain with growing indentation") {
    Trace t = seed_trace();
    t.spans[0].parent_id = 2;  // tool.fetch under llm.complete
    CHECK(as_tree(t) == "agent.run [142ms]\n  llm.complete [130ms]\n    tool.fetch [12ms]\n");
  }

  TEST_CASE("every span appears exactly once whatever the parent links") {
    Trace t;
    const SpanId n = 2000;
    for (SpanId i = 1; i <= n; ++i) {
      // A hostile mix: roots, orphans, self-parents, long cycles and shared parents.
      const SpanId parent = i % 97 == 0 ? 0 : i % 89 == 0 ? n + i : i % 83 == 0 ? i : (i * 7919) % n + 1;
      t.spans.push_back(span(i, parent, "s", static_cast<std::int64_t>((i * 31) % 50), 60));
    }
    t.spans.push_back(span(5, 0, "duplicate id", 1, 2));
    const auto rows = tree_order(t);
    REQUIRE(rows.size() == t.spans.size());
    std::vector<int> seen(t.spans.size(), 0);
    for (const auto& row : rows) ++seen[row.index];
    CHECK(std::count(seen.begin(), seen.end(), 1) == static_cast<long>(t.spans.size()));
    // A row's parent row comes before it, one level up.
    for (std::size_t r = 0; r < rows.size(); ++r)
      if (rows[r].depth > 0) CHECK(rows[r - 1].depth >= rows[r].depth - 1);
  }

  TEST_CASE("the header prints a short id as written and omits an empty run_id") {
    Trace t;
    t.trace_id = *parse_trace_id("3a7f1c2b");
    CHECK(tree_header(t) == "[Trace 3a7f1c2b]");
    t.trace_id = *parse_trace_id("abc");
    CHECK(tree_header(t) == "[Trace 00000abc]");
    t.trace_id = *parse_trace_id("123456789abc");
    t.run_id = std::string("r");
    CHECK(tree_header(t) == "[Trace 12345678] run_id=r");
  }

  TEST_CASE("rounds durations to whole milliseconds") {
    Trace t;
    t.spans = {span(1, 0, "a", 0, 0)};
    t.spans[0].ended_at_ns = t.spans[0].started_at_ns + 1'499'999;
    CHECK(as_tree(t) == "a [1ms]\n");
    t.spans[0].ended_at_ns = t.spans[0].started_at_ns + 1'500'000;
    CHECK(as_tree(t) == "a [2ms]\n");
  }

  TEST_CASE("walks a 100k-span chain without recursion") {
    Trace t;
    for (SpanId i = 1; i <= 100000; ++i) t.spans.push_back(span(i, i - 1, "x", 0, 1));
    auto rows = tree_order(t);
    REQUIRE(rows.size() == 100000);
    CHECK(rows.back().depth == 99999);
  }

  TEST_CASE("stops indenting at the cap and marks deeper lines with their depth") {
    Trace t;
    for (SpanId i = 1; i <= 27; ++i) t.spans.push_back(span(i, i - 1, "x", 0, 1));
    const std::string tree = as_tree(t);
    std::string want;
    // Under and at the cap: the seed's format, two spaces a level.
    for (int d = 0; d <= tree_indent_cap; ++d) want += std::string(static_cast<std::size_t>(d) * 2, ' ') + "x [1ms]\n";
    const std::string cap(static_cast<std::size_t>(tree_indent_cap) * 2, ' ');
    want += cap + "[depth 25] x [1ms]\n" + cap + "[depth 26] x [1ms]\n";
    CHECK(tree == want);
  }

  TEST_CASE("the text of a deep chain grows linearly with its length") {
    Trace t;
    const SpanId n = 10000;
    for (SpanId i = 1; i <= n; ++i) t.spans.push_back(span(i, i - 1, "x", 0, 1));
    const std::string tree = as_tree(t);
    // Each line is at most the capped indent, a "[depth 9999] " marker and "x [1ms]\n".
    CHECK(tree.size() <= n * (tree_indent_cap * 2 + 13 + 8));
    CHECK(tree.ends_with("[depth 9999] x [1ms]\n"));
  }

  TEST_CASE("neutralises terminal escapes in names, errors and run ids") {
    Trace t;
    t.run_id = "r\x1b[31m";
    t.spans = {span(1, 0, "evil\x1b]0;title\x07\xc2\x9b", 0, 1)};
    CHECK(tree_header(t).find('\x1b') == std::string::npos);
    const std::string tree = as_tree(t);
    CHECK(tree.find('\x1b') == std::string::npos);
    CHECK(tree.find('\x07') == std::string::npos);
    CHECK(tree.find("\xc2\x9b") == std::string::npos);
    CHECK(tree.find("\\x1b") != std::string::npos);
  }
}
