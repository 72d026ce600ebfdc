// Store + assembly budgets, on the ~600-byte span lines of span_lines.hpp decoded by the
// real Decoder (so the Span strings are what the daemon would hold):
//   (1) heap and RSS per stored span vs the JSON line size (budget <= 1.5x)
//   (2) RSS while streaming 4x max_traces through a bounded store (budget: flat, <= 1.1x)
//   (3) spans/s through Assembler + TraceStore on one thread (decoding not timed)
//   (4) hostile: late copies of spans of a 10k-span exported trace, one per apply()

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/span_lines.hpp"
#include "daemon/assembly/assembler.hpp"
#include "protocol/decoder.hpp"

namespace {

using namespace tracecol;
using SteadyClock = std::chrono::steady_clock;

std::size_t heap_in_use() { return mallinfo2().uordblks; }

std::size_t rss_bytes() {
  long pages_total = 0, pages_resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  return static_cast<std::size_t>(pages_resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

/** Decodes trace `t` (50 span lines + trace_end) into `events`; adds the span line bytes. */
void decode_trace(protocol::Decoder& decoder, int t, std::vector<protocol::Event>& events, std::size_t* line_bytes) {
  events.resize(bench::spans_per_trace + 1);
  for (int s = 0; s < bench::spans_per_trace; ++s) {
    const std::string line = bench::make_span_line(t, s);
    if (line_bytes != nullptr) *line_bytes += line.size() + 1;
    if (!decoder.decode(line, events[static_cast<std::size_t>(s)]).ok) std::abort();
  }
  char end[96];
  const int n = std::snprintf(end, sizeof end, R"({"type":"trace_end","trace_id":"%032x"})", t + 1);
  if (!decoder.decode(std::string_view(end, static_cast<std::size_t>(n)), events.back()).ok) std::abort();
}

/** An assembler over a store; publishing drops the snapshots (the store keeps the traces). */
struct Pipeline {
  store::TraceStore store;
  std::uint64_t published = 0;
  assembly::Assembler assembler;
  explicit Pipeline(store::StoreLimits limits)
      : store(limits), assembler({}, store, [this](std::vector<assembly::TracePtr>&& t) { published += t.size(); }) {}
};

void memory_per_span(int traces) {
  protocol::Decoder decoder;
  std::vector<protocol::Event> events;
  decode_trace(decoder, 0, events, nullptr);  // warm the decoder's scratch buffers
  events.clear();
  malloc_trim(0);
  const std::size_t heap0 = heap_in_use(), rss0 = rss_bytes();
  std::size_t line_bytes = 0;
  {
    Pipeline p({static_cast<std::size_t>(traces) * 2, std::size_t{1} << 40});
    // Warm-up allocations that are not per span (the event batch) belong to the baseline.
    for (int t = 0; t < traces; ++t) {
      decode_trace(decoder, t, events, &line_bytes);
      p.assembler.apply(events, assembly::Clock::now());
    }
    events.clear();
    events.shrink_to_fit();
    const double spans = static_cast<double>(traces) * bench::spans_per_trace;
    const double line = static_cast<double>(line_bytes) / spans;
    const double heap = static_cast<double>(heap_in_use() - heap0) / spans;
    const double rss = static_cast<double>(rss_bytes() - rss0) / spans;
    const double footprint = static_cast<double>(p.store.counters().bytes) / spans;
    std::printf("(1) memory: %.0f spans stored, avg line %.0f bytes (incl. newline)\n", spans, line);
    std::printf("| measure | bytes/span | vs line |\n|---|---|---|\n");
    std::printf("| heap growth (mallinfo2 uordblks) | %.0f | %.2fx |\n", heap, heap / line);
    std::printf("| RSS growth (/proc/self/statm) | %.0f | %.2fx |\n", rss, rss / line);
    std::printf("| Span::footprint() (store byte bound) | %.0f | %.2fx |\n", footprint, footprint / line);
    std::printf("budget <= 1.5x: heap %s\n", heap / line <= 1.5 ? "PASS" : "FAIL");
  }
}

void streaming_rss(int max_traces) {
  protocol::Decoder decoder;
  std::vector<protocol::Event> events;
  Pipeline p({static_cast<std::size_t>(max_traces), std::size_t{1} << 40});
  std::printf("(2) streaming %d traces x %d spans through max_traces=%d\n", 4 * max_traces,
              bench::spans_per_trace, max_traces);
  std::printf("| traces streamed | RSS MiB | heap MiB | vs 1x |\n|---|---|---|---|\n");
  double rss_1x = 0;
  double worst = 0;
  for (int round = 1; round <= 4; ++round) {
    for (int t = (round - 1) * max_traces; t < round * max_traces; ++t) {
      decode_trace(decoder, t, events, nullptr);
      p.assembler.apply(events, assembly::Clock::now());
    }
    const double rss = static_cast<double>(rss_bytes());
    if (round == 1) rss_1x = rss;
    worst = std::max(worst, rss / rss_1x);
    std::printf("| %dx (%d) | %.1f | %.1f | %.3f |\n", round, round * max_traces, rss / 1048576.0,
                static_cast<double>(heap_in_use()) / 1048576.0, rss / rss_1x);
  }
  std::printf("held traces %llu; budget <= 1.1x: %s\n", static_cast<unsigned long long>(p.store.counters().traces),
              worst <= 1.1 ? "PASS" : "FAIL");
}

void throughput(int traces, int rounds) {
  protocol::Decoder decoder;
  std::vector<std::vector<protocol::Event>> batches(static_cast<std::size_t>(traces));
  Pipeline p({static_cast<std::size_t>(traces), std::size_t{1} << 40});  // evicts as the store fills
  double secs = 0;
  std::size_t spans = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int t = 0; t < traces; ++t) decode_trace(decoder, r * traces + t, batches[static_cast<std::size_t>(t)], nullptr);
    const auto t0 = SteadyClock::now();
    for (auto& b : batches) p.assembler.apply(b, assembly::Clock::now());
    secs += std::chrono::duration<double>(SteadyClock::now() - t0).count();
    spans += static_cast<std::size_t>(traces) * bench::spans_per_trace;
  }
  std::printf("(3) throughput: %zu spans (one apply per trace of %d spans + trace_end), one thread\n", spans,
              bench::spans_per_trace);
  std::printf("| path | spans/s |\n|---|---|\n| Assembler.apply + TraceStore (decode not timed) | %.0f |\n",
              static_cast<double>(spans) / secs);
  std::printf("published %llu traces\n", static_cast<unsigned long long>(p.published));
}

void hostile_late_copies(int copies) {
  Pipeline p({1000, std::size_t{1} << 40});
  constexpr int big = 10000;
  std::vector<protocol::Event> events(big + 1);
  for (int i = 0; i < big; ++i) {
    protocol::Span& s = events[static_cast<std::size_t>(i)].span;
    s.trace_id = protocol::TraceId{0, 1};
    s.span_id = static_cast<protocol::SpanId>(i + 1);
    s.parent_id = i == 0 ? 0 : 1;
    s.started_at_ns = 1'700'000'000'000'000'000LL + i;
    s.ended_at_ns = s.started_at_ns + 1000;
    s.fields = protocol::field_parent_id | protocol::field_started_at | protocol::field_ended_at;
  }
  events.back().type = protocol::EventType::trace_end;
  events.back().trace_id = protocol::TraceId{0, 1};
  p.assembler.apply(events, assembly::Clock::now());
  std::vector<protocol::Event> one(1);
  const auto t0 = SteadyClock::now();
  for (int c = 0; c < copies; ++c) {
    protocol::Span& s = one[0].span;
    s = protocol::Span{};
    s.trace_id = protocol::TraceId{0, 1};
    s.span_id = static_cast<protocol::SpanId>(1 + c % big);
    s.ended_at_ns = 1'800'000'000'000'000'000LL;
    s.fields = protocol::field_ended_at;
    one[0].type = protocol::EventType::span_end;
    p.assembler.apply(one, assembly::Clock::now());
  }
  const double secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::printf("(4) hostile: %d late span_end copies into a %d-span exported trace, one apply each: %.0f/s\n",
              copies, big, copies / secs);
}

}  // namespace

int main(int argc, char** argv) {
  const int traces = argc > 1 ? std::atoi(argv[1]) : 2000;  // 2000 x 50 = 100k spans
  memory_per_span(traces);
  malloc_trim(0);
  streaming_rss(1000);
  throughput(1000, 5);
  hostile_late_copies(100000);
  return 0;
}
