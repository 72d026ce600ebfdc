// The line framer: any chunking of a stream gives the same lines, over-long reports,
// blank count and unterminated tail as reading it at once; the buffer stays bounded.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/ingest/line_framer.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

constexpr std::size_t max_line = 48;

struct Framed {
  std::vector<std::string> lines;  // accepted lines, and "!<n>" for an over-long one
  std::uint64_t blank = 0;
  std::size_t tail = 0;
  bool operator==(const Framed&) const = default;
};

/** Feeds stream to a framer in reads of the given sizes (cycled); size 0 reads take what fits. */
Framed frame(const std::uint8_t* stream, std::size_t size, std::size_t read_size,
             const std::vector<std::size_t>& chunks) {
  tracecol::ingest::LineFramer framer(max_line, read_size);
  Framed out;
  std::size_t pos = 0;
  std::size_t next_chunk = 0;
  while (pos < size) {
    auto space = framer.prepare();
    FUZZ_CHECK(space.size() >= read_size);
    std::size_t n = chunks.empty() ? space.size() : chunks[next_chunk++ % chunks.size()];
    n = std::min({n == 0 ? space.size() : n, space.size(), size - pos});
    std::memcpy(space.data(), stream + pos, n);
    pos += n;
    framer.commit(
        n, [&](std::string_view line) { out.lines.emplace_back(line); },
        [&](std::size_t seen) {
          FUZZ_CHECK(seen > max_line);
          out.lines.push_back("!");
        });
    FUZZ_CHECK(framer.buffered() <= max_line + 1 + read_size);
  }
  out.blank = framer.blank_lines();
  out.tail = framer.finish();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first bytes choose the chunking (1..16 bytes per read, up to 8 sizes); the rest is the stream.
  const std::size_t count = 1 + data[0] % 8;
  if (size < 1 + count) return 0;
  std::vector<std::size_t> chunks;
  for (std::size_t i = 0; i < count; ++i) chunks.push_back(1 + data[1 + i] % 16);
  const std::uint8_t* stream = data + 1 + count;
  const std::size_t stream_size = size - 1 - count;
  const Framed whole = frame(stream, stream_size, std::max<std::size_t>(stream_size, 1), {});
  const Framed pieces = frame(stream, stream_size, 16, chunks);
  FUZZ_CHECK(whole == pieces);
  for (const auto& line : whole.lines) {
    FUZZ_CHECK(line.size() <= max_line);
    FUZZ_CHECK(line.find('\n') == std::string::npos);
  }
  return 0;
}
