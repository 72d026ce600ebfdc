// Encoder cost (issue #3's export budget): the OTLP JSON, OTLP protobuf and native JSON encodings of the
// bench's traces (50 LLM-call spans each, as the socket would deliver them: peer pid/uid
// set), one core, into one reused buffer as the HTTP exporter does. The baseline measured
// in the same run: memcpy of the same number of output bytes, the least any encoder of
// them costs. Best of interleaved rounds, as decode_bench.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/span_lines.hpp"
#include "protocol/decoder.hpp"
#include "protocol/encoder.hpp"
#include "protocol/otlp_encoder.hpp"
#include "protocol/otlp_proto_encoder.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Contender {
  const char* name;
  std::function<std::size_t()> run;  // one pass over every trace; returns the bytes written
  double best_s = 1e9;
  std::size_t bytes = 0;
};

}  // namespace

int main(int argc, char** argv) {
  // 55 traces: about one exporter batch (4 MiB of OTLP JSON), as the sender encodes it.
  const int traces = argc > 1 ? std::atoi(argv[1]) : 55;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 15;
  tracecol::protocol::Decoder decoder(tracecol::protocol::DecodeOptions{});
  std::vector<tracecol::protocol::Trace> all(static_cast<std::size_t>(traces));
  for (int t = 0; t < traces; ++t) {
    auto& trace = all[static_cast<std::size_t>(t)];
    for (int s = 0; s < tracecol::bench::spans_per_trace; ++s) {
      tracecol::protocol::Event event;
      if (!decoder.decode(tracecol::bench::make_span_line(t, s), event).ok) {
        std::fprintf(stderr, "bench line did not decode\n");
        return 1;
      }
      event.span.has_peer = true;  // as the socket stamps them (SO_PEERCRED)
      event.span.peer_pid = 4242;
      event.span.peer_uid = 1000;
      trace.trace_id = event.span.trace_id;
      trace.spans.push_back(std::move(event.span));
    }
    trace.complete = true;
  }
  const double spans = static_cast<double>(traces) * tracecol::bench::spans_per_trace;

  // Encoded as the exporter does: a batch of traces into one reused buffer, batch after
  // batch. With more traces than a cache holds (`encode_bench 4000`), every trace is read
  // cold, as the sender reads traces the ingest thread stored long before.
  constexpr std::size_t batch = 55;
  std::string out;
  tracecol::protocol::ByteBuffer bytes;  // the HTTP exporter's protobuf body: no zero-fill on growth
  const auto each_batch = [&](auto&& encode) {
    std::size_t written = 0;
    for (std::size_t first = 0; first < all.size(); first += batch)
      written += encode(std::span(all).subspan(first, std::min(batch, all.size() - first)));
    return written;
  };
  using Batch = std::span<const tracecol::protocol::Trace>;
  // The protobuf encoding into either buffer type: only the buffer differs.
  const auto protobuf_into = [&](auto& buffer) {
    return [&] {
      return each_batch([&](Batch group) {
        buffer.clear();
        for (const auto& t : group) tracecol::protocol::append_otlp_proto_resource_spans(buffer, t, "bench");
        return buffer.size();
      });
    };
  };
  // The OTLP JSON request as the exporter builds it: head, each trace's spans, tail.
  const auto json_into = [&](auto& buffer) {
    return [&] {
      return each_batch([&](Batch group) {
        buffer.clear();
        tracecol::protocol::append_otlp_request_head(buffer, "bench");
        for (std::size_t i = 0; i < group.size(); ++i) {
          if (i > 0) buffer.push_back(',');
          tracecol::protocol::append_otlp_spans(buffer, group[i]);
        }
        tracecol::protocol::append_otlp_request_tail(buffer);
        return buffer.size();
      });
    };
  };
  std::string copy_src, copy_dst;
  std::vector<Contender> contenders = {
      {"OTLP JSON into a std::string", json_into(out)},
      {"OTLP JSON into a ByteBuffer (the exporter's)", json_into(bytes)},
      {"OTLP protobuf into a std::string", protobuf_into(out)},
      {"OTLP protobuf into a ByteBuffer (the exporter's)", protobuf_into(bytes)},
      {"native trace JSON (append_trace_json)",
       [&] {
         return each_batch([&](Batch group) {
           out.clear();
           for (const auto& t : group) {
             tracecol::protocol::append_trace_json(out, t);
             out += '\n';
           }
           return out.size();
         });
       }},
  };
  // The baseline copies as many bytes as the OTLP encoding wrote, batch by batch, into a warm buffer.
  const std::size_t json_bytes = contenders[0].run();
  copy_src = out;  // the last batch
  copy_dst.resize(copy_src.size());
  contenders.push_back({"memcpy of the OTLP bytes (baseline)", [&] {
                          std::size_t written = 0;
                          while (written < json_bytes) {
                            std::memcpy(copy_dst.data(), copy_src.data(), copy_src.size());
                            written += copy_src.size();
                          }
                          return written;
                        }});
  // A third argument runs only the contenders whose name starts with it (and the
  // baseline), so a profiler sees one encoder: `encode_bench 55 200 "OTLP JSON"`.
  if (argc > 3)
    std::erase_if(contenders, [&](const Contender& c) {
      const std::string_view name = c.name;
      return !name.starts_with("memcpy") && !name.starts_with(argv[3]);
    });
  for (int r = 0; r < rounds; ++r)
    for (auto& c : contenders) {
      const auto t0 = Clock::now();
      c.bytes = c.run();
      c.best_s = std::min(c.best_s, std::chrono::duration<double>(Clock::now() - t0).count());
    }
  std::printf("encode_bench: %d traces x %d spans, best of %d interleaved rounds, one core\n", traces,
              tracecol::bench::spans_per_trace, rounds);
  std::printf("| encoder | ns/span | bytes/span | GB/s | vs memcpy |\n|---|---|---|---|---|\n");
  const double floor_ns = contenders.back().best_s * 1e9 / spans;
  for (const auto& c : contenders) {
    const double ns = c.best_s * 1e9 / spans;
    std::printf("| %s | %.0f | %.0f | %.2f | %.1fx |\n", c.name, ns, static_cast<double>(c.bytes) / spans,
                static_cast<double>(c.bytes) / c.best_s / 1e9, ns / floor_ns);
  }
  return 0;
}
