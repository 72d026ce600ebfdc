// The OTLP/HTTP JSON decoder: never crashes on any body, and the spans it accepts encode
// (protocol/otlp_encoder) into a request it decodes back to the same spans.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/otlp_decoder.hpp"
#include "protocol/otlp_encoder.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace tp = tracecol::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const tp::DecodeOptions options = [] {
    tp::DecodeOptions o;
    o.redact_keys = tp::default_redact_keys();
    return o;
  }();
  const tp::OtlpDecodeResult first =
      tp::decode_otlp_request(std::string_view(reinterpret_cast<const char*>(data), size), options);
  if (!first.ok) {
    FUZZ_CHECK(first.spans.empty());
    return 0;
  }
  if (first.spans.empty()) return 0;
  tp::Trace trace;
  trace.trace_id = first.spans.front().trace_id;
  trace.spans = first.spans;
  const tp::Trace* traces[] = {&trace};
  std::string body;
  tp::append_otlp_request(body, traces, "fuzz");
  const tp::OtlpDecodeResult second = tp::decode_otlp_request(body, options);
  FUZZ_CHECK(second.ok);
  FUZZ_CHECK(second.rejected == 0);
  FUZZ_CHECK(second.spans.size() == first.spans.size());
  for (std::size_t i = 0; i < first.spans.size(); ++i) {
    const tp::Span& a = first.spans[i];
    const tp::Span& b = second.spans[i];
    FUZZ_CHECK(a.trace_id == b.trace_id);
    FUZZ_CHECK(a.span_id == b.span_id);
    FUZZ_CHECK(a.parent_id == b.parent_id);
    FUZZ_CHECK(a.started_at_ns == b.started_at_ns);
    FUZZ_CHECK(a.ended_at_ns == b.ended_at_ns);
    FUZZ_CHECK(a.name == b.name);
    FUZZ_CHECK(a.kind == b.kind);
    FUZZ_CHECK(a.has_error() == b.has_error());
    FUZZ_CHECK(a.error == b.error);
  }
  return 0;
}
