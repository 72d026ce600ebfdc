#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "daemon/export/memory_exporter.hpp"
#include "export_test_support.hpp"

namespace tracecol::exporters {
namespace {

using Clock = std::chrono::steady_clock;

TEST_SUITE("export.memory") {
  TEST_CASE("keeps a copy of every exported trace and span") {
    InMemoryTraceExporter mem(true);
    CHECK(mem.name() == "memory");
    CHECK(mem.wants_spans());
    const auto t = test::make_trace(5, 3);
    CHECK(mem.export_trace(*t) == ExportStatus::ok);
    CHECK(mem.export_span(t->spans[1]) == ExportStatus::ok);
    const auto traces = mem.traces();
    REQUIRE(traces.size() == 1);
    CHECK(traces[0].get() != t.get());
    CHECK(traces[0]->trace_id == t->trace_id);
    CHECK(traces[0]->spans.size() == 3);
    REQUIRE(mem.spans().size() == 1);
    CHECK(mem.spans()[0]->span_id == 2);
    mem.clear();
    CHECK(mem.traces().empty());
    CHECK(mem.spans().empty());
  }

  TEST_CASE("traces() is a snapshot unaffected by later exports") {
    InMemoryTraceExporter mem;
    mem.export_trace(*test::make_trace(1));
    const auto snapshot = mem.traces();
    mem.export_trace(*test::make_trace(2));
    CHECK(snapshot.size() == 1);
    CHECK(mem.trace_count() == 2);
  }

  TEST_CASE("wait_for_traces wakes when another thread exports enough traces") {
    InMemoryTraceExporter mem;
    std::thread writer([&] {
      for (std::uint64_t i = 1; i <= 100; ++i) mem.export_trace(*test::make_trace(i, 1));
    });
    CHECK(mem.wait_for_traces(100, Clock::now() + std::chrono::seconds(10)));
    writer.join();
    CHECK(mem.trace_count() == 100);
  }

  TEST_CASE("wait_for_traces returns false at the deadline when too few arrived") {
    InMemoryTraceExporter mem;
    mem.export_trace(*test::make_trace(1));
    CHECK_FALSE(mem.wait_for_traces(2, Clock::now()));
    CHECK(mem.wait_for_traces(1, Clock::now()));
  }

  TEST_CASE("wants spans only when its options say so") {
    CHECK_FALSE(InMemoryTraceExporter().wants_spans());
    CHECK_FALSE(InMemoryTraceExporter(MemoryExporterOptions{}).wants_spans());
    CHECK(InMemoryTraceExporter(MemoryExporterOptions{.wants_spans = true}).wants_spans());
  }

  TEST_CASE("counts flushes and reopens") {
    InMemoryTraceExporter mem;
    mem.flush();
    mem.reopen();
    mem.reopen();
    CHECK(mem.flush_count() == 1);
    CHECK(mem.reopen_count() == 2);
    CHECK_FALSE(mem.wants_spans());
  }
}

}  // namespace
}  // namespace tracecol::exporters
