#include "daemon/http/gzip.hpp"

#include <zlib.h>

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace tracecol::http {
namespace {

/** Owns a z_stream set up for gzip-only inflation. */
struct Inflater {
  z_stream z{};
  bool ready = false;
  Inflater() { ready = inflateInit2(&z, 16 + MAX_WBITS) == Z_OK; }
  ~Inflater() {
    if (ready) inflateEnd(&z);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

}  // namespace

BodyCoding body_coding(std::string_view content_encoding) {
  const std::size_t first = content_encoding.find_first_not_of(" \t");
  if (first == std::string_view::npos) return BodyCoding::identity;
  const std::string_view coding =
      content_encoding.substr(first, content_encoding.find_last_not_of(" \t") - first + 1);
  if (boost::beast::iequals(coding, "identity")) return BodyCoding::identity;
  if (boost::beast::iequals(coding, "gzip")) return BodyCoding::gzip;
  return BodyCoding::unsupported;  // br, deflate, a list of codings, ...
}

InflateResult inflate_gzip(std::string_view compressed, std::size_t max_out) {
  InflateResult out;
  Inflater inf;
  if (!inf.ready || compressed.empty()) {
    out.status = InflateStatus::corrupt;
    return out;
  }
  // zlib's avail_in is 32-bit; feed large inputs in slices.
  constexpr std::size_t slice = 1u << 30;
  constexpr std::size_t chunk = 64u << 10;
  std::size_t consumed = 0;
  auto feed = [&] {
    const std::size_t n = std::min(slice, compressed.size() - consumed);
    // zlib's API is not const-correct; it never writes through next_in.
    inf.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + consumed));
    inf.z.avail_in = static_cast<uInt>(n);
  };
  feed();
  for (;;) {
    // One byte past the cap tells "exactly max_out" apart from "more than max_out".
    const std::size_t room = max_out + 1 - out.data.size();
    const std::size_t grow = std::min(chunk, room);
    const std::size_t before = out.data.size();
    out.data.resize(before + grow);
    inf.z.next_out = reinterpret_cast<Bytef*>(out.data.data() + before);
    inf.z.avail_out = static_cast<uInt>(grow);
    const std::size_t in_before = inf.z.avail_in;
    const int rc = inflate(&inf.z, Z_NO_FLUSH);
    out.data.resize(before + grow - inf.z.avail_out);
    consumed += in_before - inf.z.avail_in;
    if (out.data.size() > max_out) {
      out.status = InflateStatus::too_large;
      out.data.clear();
      return out;
    }
    if (rc == Z_STREAM_END) {
      if (consumed == compressed.size()) return out;
      // Another gzip member follows (gzip -c a b > c is valid); start it afresh.
      if (inflateReset(&inf.z) != Z_OK) break;
      feed();
      continue;
    }
    if (rc == Z_BUF_ERROR && inf.z.avail_in == 0) {
      if (consumed == compressed.size()) break;  // truncated: the stream wants more input
      feed();
      continue;
    }
    if (rc != Z_OK) break;
    if (inf.z.avail_in == 0 && consumed < compressed.size()) feed();
  }
  out.status = InflateStatus::corrupt;
  out.data.clear();
  return out;
}

}  // namespace tracecol::http
