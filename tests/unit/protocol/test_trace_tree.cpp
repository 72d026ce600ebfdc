#include <doctest/doctest.h>

#include "protocol/trace_tree.hpp"

using namespace tracecol::protocol;

namespace {

Span span(SpanId id, SpanId parent, const char* name, std::int64_t start_ms, std::int64_t end_ms) {
  Span s;
  s.span_id = id;
  s.parent_id = parent;
  s.name = name;
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
    // The self-parent is an orphan root at once; the a<->b cycle is broken after the roots.
    CHECK(as_tree(t) == "self [1ms] (orphan)\na [1ms] (orphan)\n  b [1ms]\n");
  }

  TEST_CASE("walks a 100k-span chain without recursion") {
    Trace t;
    for (SpanId i = 1; i <= 100000; ++i) t.spans.push_back(span(i, i - 1, "x", 0, 1));
    auto rows = tree_order(t);
    REQUIRE(rows.size() == 100000);
    CHECK(rows.back().depth == 99999);
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
