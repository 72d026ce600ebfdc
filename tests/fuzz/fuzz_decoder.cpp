// The protocol line decoder: never crashes, and whatever it accepts re-encodes to a line
// it accepts again, which re-encodes to the same bytes (decode∘encode is a fixed point).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/decoder.hpp"
#include "protocol/event_encoder.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tracecol::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tp::Decoder decoder([] {
    tp::DecodeOptions o;
    o.max_depth = 64;
    o.redact_keys = tp::default_redact_keys();
    return o;
  }());
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  tp::Event first;
  const tp::DecodeResult r = decoder.decode(line, first);
  if (!r.ok) {
    FUZZ_CHECK(r.offset <= size);
    return 0;
  }
  std::string once;
  tp::append_event_line(once, first);
  tp::Event second;
  FUZZ_CHECK(decoder.decode(once, second).ok);
  std::string twice;
  tp::append_event_line(twice, second);
  FUZZ_CHECK(once == twice);
  return 0;
}
