// Decoder budget (issue #2): on the same ~600-byte span lines, one core, one run:
//   (a) RapidJSON DOM parse with default flags — the speed to beat, and unsafe (STYLE.md)
//   (b) RapidJSON DOM with the safe flags together — the 5x cliff
//   (c) tracecol's Decoder — validating, hardened, building the Event the daemon stores
// Reported as lines/s, MB/s and the ratio to (a), so a noisy machine still reads true.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/span_lines.hpp"
#include "protocol/decoder.hpp"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double lines_per_second(const std::vector<std::string>& lines, int rounds, F&& parse_one) {
  std::size_t ok = 0;
  const auto t0 = Clock::now();
  for (int r = 0; r < rounds; ++r)
    for (const auto& l : lines) ok += parse_one(l) ? 1 : 0;
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (ok != lines.size() * static_cast<std::size_t>(rounds)) std::fprintf(stderr, "warning: %zu lines failed\n", lines.size() * rounds - ok);
  return static_cast<double>(lines.size()) * rounds / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const int traces = argc > 1 ? std::atoi(argv[1]) : 400;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 10;
  std::vector<std::string> lines;
  std::size_t bytes = 0;
  for (int t = 0; t < traces; ++t)
    for (int s = 0; s < tracecol::bench::spans_per_trace; ++s) {
      lines.push_back(tracecol::bench::make_span_line(t, s));
      bytes += lines.back().size();
    }
  const double avg = static_cast<double>(bytes) / static_cast<double>(lines.size());

  const double dom = lines_per_second(lines, rounds, [](const std::string& l) {
    rapidjson::Document d;
    d.Parse(l.data(), l.size());
    return !d.HasParseError();
  });
  constexpr unsigned safe = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                            rapidjson::kParseNumbersAsStringsFlag;
  const double dom_safe = lines_per_second(lines, rounds, [](const std::string& l) {
    rapidjson::Document d;
    d.Parse<safe>(l.data(), l.size());
    return !d.HasParseError();
  });
  tracecol::protocol::DecodeOptions options;
  options.redact_keys = tracecol::protocol::default_redact_keys();
  tracecol::protocol::Decoder decoder(options);
  tracecol::protocol::Event event;
  const double ours = lines_per_second(lines, rounds, [&](const std::string& l) {
    return decoder.decode(l, event).ok;
  });

  std::printf("decode_bench: %zu lines x %d rounds, avg %.0f bytes/line, one core\n", lines.size(), rounds, avg);
  std::printf("| parser | lines/s | MB/s | vs RapidJSON default |\n|---|---|---|---|\n");
  auto row = [&](const char* name, double rate) {
    std::printf("| %s | %.0f | %.0f | %.2f |\n", name, rate, rate * avg / 1e6, rate / dom);
  };
  row("RapidJSON DOM, default flags (unsafe)", dom);
  row("RapidJSON DOM, iterative+validate+numbers-as-strings", dom_safe);
  row("tracecol Decoder (validating, builds the Event)", ours);
  return 0;
}
