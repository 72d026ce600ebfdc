#pragma once
// A minimal protobuf wire reader for tests and benches: splits a message into its fields
// (number, wire type, value) without a schema, as `protoc --decode_raw` does. Enough to
// check what the OTLP protobuf encoder wrote, field number by field number, against the
// opentelemetry-proto definitions spelled out in the tests.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace tracecol::testing::proto {

struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire_type = 0;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  std::uint64_t number_value = 0;  // varint, fixed64 or fixed32
  std::string_view bytes;          // length-delimited content
};

/** A varint at p (advanced), or nullopt when it runs past end or over 10 bytes. */
inline std::optional<std::uint64_t> read_varint(const char*& p, const char* end) {
  std::uint64_t v = 0;
  for (int shift = 0; p < end && shift < 70; shift += 7) {
    const auto b = static_cast<unsigned char>(*p++);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return std::nullopt;
}

/** The fields of one message in order, or nullopt when the bytes are not a well-formed message. */
inline std::optional<std::vector<Field>> parse(std::string_view message) {
  std::vector<Field> out;
  const char* p = message.data();
  const char* const end = p + message.size();
  while (p < end) {
    const auto tag = read_varint(p, end);
    if (!tag || (*tag >> 3) == 0) return std::nullopt;
    Field f;
    f.number = static_cast<std::uint32_t>(*tag >> 3);
    f.wire_type = static_cast<std::uint32_t>(*tag & 7);
    switch (f.wire_type) {
      case 0: {
        const auto v = read_varint(p, end);
        if (!v) return std::nullopt;
        f.number_value = *v;
        break;
      }
      case 1:
      case 5: {
        const std::size_t n = f.wire_type == 1 ? 8 : 4;
        if (static_cast<std::size_t>(end - p) < n) return std::nullopt;
        for (std::size_t i = 0; i < n; ++i) f.number_value |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
        p += n;
        break;
      }
      case 2: {
        const auto n = read_varint(p, end);
        if (!n || *n > static_cast<std::uint64_t>(end - p)) return std::nullopt;
        f.bytes = std::string_view(p, static_cast<std::size_t>(*n));
        p += *n;
        break;
      }
      default: return std::nullopt;
    }
    out.push_back(f);
  }
  return out;
}

/** The fields numbered `number` of a parsed message. */
inline std::vector<Field> all(const std::vector<Field>& fields, std::uint32_t number) {
  std::vector<Field> out;
  for (const auto& f : fields)
    if (f.number == number) out.push_back(f);
  return out;
}

/** The single field numbered `number`, or nullopt when absent. */
inline std::optional<Field> one(const std::vector<Field>& fields, std::uint32_t number) {
  for (const auto& f : fields)
    if (f.number == number) return f;
  return std::nullopt;
}

/** Spans in an OTLP ExportTraceServiceRequest: resource_spans (1) . scope_spans (2) . spans (2). */
inline std::uint64_t count_spans(std::string_view request) {
  std::uint64_t n = 0;
  const auto top = parse(request);
  if (!top) return 0;
  for (const auto& rs : all(*top, 1))
    if (const auto rs_fields = parse(rs.bytes))
      for (const auto& ss : all(*rs_fields, 2))
        if (const auto ss_fields = parse(ss.bytes)) n += all(*ss_fields, 2).size();
  return n;
}

}  // namespace tracecol::testing::proto
