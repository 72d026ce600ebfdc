#pragma once
// gzip request bodies (Content-Encoding: gzip) inflated with zlib under a size cap, so a
// small compressed body cannot expand past --http-max-body. Pure: no I/O.

#include <cstddef>
#include <string>
#include <string_view>

namespace tracecol::http {

/** A request body's Content-Encoding: none or identity, gzip, or one we cannot read (415). */
enum class BodyCoding { identity, gzip, unsupported };

/** Reads a Content-Encoding value (every field of it joined with ", "); case and blanks around it ignored. */
BodyCoding body_coding(std::string_view content_encoding);

enum class InflateStatus {
  ok,
  too_large,  // the decompressed size would exceed max_out; inflating stopped there
  corrupt,    // not gzip, bad checksum, truncated, or trailing garbage
};

struct InflateResult {
  InflateStatus status = InflateStatus::ok;
  std::string data;  // the whole decompressed body when ok; unspecified otherwise
};

/**
 * Inflates one or more concatenated gzip members. Never allocates more than about
 * max_out bytes of output, never throws on input content. Thread-safe (no shared state).
 */
InflateResult inflate_gzip(std::string_view compressed, std::size_t max_out);

}  // namespace tracecol::http
