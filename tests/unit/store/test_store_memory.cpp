// The store's byte count against what its traces really take on the heap (glibc's
// mallinfo2): operators size --max-store-bytes and container limits from it, so it must
// not be a fraction of the truth. Small traces are the hard case: per-trace bookkeeping
// (index node, order node, the shared Trace, the span vector's block) outweighs the span.

#include <doctest/doctest.h>
#include <malloc.h>

#include <string>

#include "daemon/store/trace_store.hpp"

using namespace tracecol;

namespace {

std::size_t heap_in_use() { return mallinfo2().uordblks; }

/** Stores n exported traces of `spans` spans each, shaped as ingest shapes them; returns the heap they took. */
std::size_t fill(store::TraceStore& s, std::size_t n, int spans, std::size_t inputs_bytes) {
  const std::size_t before = heap_in_use();
  for (std::size_t t = 1; t <= n; ++t) {
    const protocol::TraceId id{0, t};
    auto txn = s.begin();
    protocol::Trace& trace = txn.insert(id);
    for (int i = 0; i < spans; ++i) {
      protocol::Span sp;
      sp.trace_id = id;
      sp.span_id = static_cast<protocol::SpanId>(i + 1);
      sp.run_id = "run-" + std::to_string(t % 50);
      sp.name = "llm.call";
      sp.inputs = inputs_bytes == 0 ? "{}" : R"({"p":")" + std::string(inputs_bytes, 'x') + R"("})";
      sp.started_at_ns = 1'700'000'000'000'000'000LL;
      sp.ended_at_ns = sp.started_at_ns + 1000;
      txn.add_bytes(id, static_cast<std::ptrdiff_t>(sp.footprint()), 1);
      trace.spans.push_back(std::move(sp));
    }
    txn.set_run_id(id, "run-" + std::to_string(t % 50));
    txn.mark_exported(id);
  }
  return heap_in_use() - before;
}

}  // namespace

TEST_SUITE("store memory") {
  TEST_CASE("the byte count covers the heap the traces take, small traces and large") {
#if defined(__SANITIZE_ADDRESS__)
    // The sanitizer's allocator is not glibc's: mallinfo2 does not see it.
    return;
#endif
    struct Shape {
      int spans;
      std::size_t inputs;
    };
    for (const Shape shape : {Shape{1, 0}, Shape{1, 2000}, Shape{20, 0}, Shape{20, 500}}) {
      CAPTURE(shape.spans);
      CAPTURE(shape.inputs);
      store::TraceStore s({1u << 30, std::size_t{1} << 40});
      constexpr std::size_t n = 20000;
      const std::size_t heap = fill(s, n, shape.spans, shape.inputs);
      const std::size_t counted = s.counters().bytes;
      INFO("heap " << heap / n << " B/trace, counted " << counted / n << " B/trace");
      CHECK(counted * 10 >= heap * 9);   // never counts much less than the heap holds
      CHECK(counted <= heap * 3 / 2);    // nor so much more that the bound wastes memory
    }
  }
}
