#pragma once
// Helpers shared by the protocol tests.

#include <string>
#include <string_view>

#include "protocol/decoder.hpp"

namespace tracecol::protocol::testing {

/** Decodes with default options; returns the result and leaves the event in *out. */
inline DecodeResult decode(std::string_view line, Event* out = nullptr, DecodeOptions options = {}) {
  Decoder decoder(std::move(options));
  Event event;
  DecodeResult r = decoder.decode(line, event);
  if (out != nullptr) *out = std::move(event);
  return r;
}

/** The reason name of a decode, or "ok". */
inline std::string outcome(std::string_view line, DecodeOptions options = {}) {
  DecodeResult r = decode(line, nullptr, std::move(options));
  return r.ok ? "ok" : std::string(to_string(r.reason));
}

/** A valid span line with `extra` members appended inside the object. */
inline std::string span_line(std::string_view extra = "") {
  std::string line = R"({"type":"span","trace_id":"3a7f1c2b","span_id":"1","started_at":1732500000.5)";
  if (!extra.empty()) {
    line += ',';
    line += extra;
  }
  line += '}';
  return line;
}

}  // namespace tracecol::protocol::testing
