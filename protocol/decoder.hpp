#pragma once
// Decodes one protocol line into an Event. Untrusted input: never throws, never reads
// outside the given bytes, never recurses on input structure; every rejection has a reason.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/event.hpp"
#include "protocol/reject_reason.hpp"

namespace tracecol::protocol {

struct DecodeOptions {
  std::size_t max_depth = 64;           // deepest nesting of objects/arrays accepted
  std::int64_t monotonic_offset_ns = 0; // added to times < 1e9 s (CLOCK_MONOTONIC seconds)
  bool include_inputs = true;           // false: inputs dropped at ingest (stored as {})
  bool include_outputs = true;          // false: outputs dropped at ingest (absent)
  /** Keys (lowercase) whose values become "[REDACTED]" at any depth of inputs/outputs/metadata. */
  std::vector<std::string> redact_keys;
};

/** Default --redact-key set: authorization, api_key, password, secret, token. */
std::vector<std::string> default_redact_keys();

struct DecodeResult {
  bool ok = true;
  RejectReason reason = RejectReason::invalid_json;
  std::size_t offset = 0;  // byte offset in the line where the problem was found

  static DecodeResult accept() { return {}; }
  static DecodeResult reject(RejectReason r, std::size_t at) { return {false, r, at}; }
};

/**
 * Reusable line decoder. One per connection (not thread-safe); keeps scratch buffers
 * across lines so steady-state decoding allocates only what the Event itself holds.
 */
class Decoder {
 public:
  explicit Decoder(DecodeOptions options = {});
  ~Decoder();
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;

  /** Decodes line (without its '\n') into out, which is reset first. */
  DecodeResult decode(std::string_view line, Event& out);

  const DecodeOptions& options() const;
  void set_monotonic_offset_ns(std::int64_t offset);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/** realtime - monotonic now, in nanoseconds: what converts a CLOCK_MONOTONIC time to epoch. */
std::int64_t current_monotonic_offset_ns();

}  // namespace tracecol::protocol
