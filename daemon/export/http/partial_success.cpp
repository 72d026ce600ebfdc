#include "daemon/export/http/partial_success.hpp"

#include <rapidjson/document.h>

#include <charconv>

#include "daemon/log.hpp"

namespace tracecol::exporters::http {
namespace {

bool read_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

/** Calls on(field, wire_type, varint, bytes) per field of one message; false when malformed. */
template <typename On>
bool each_field(std::string_view in, On&& on) {
  while (!in.empty()) {
    std::uint64_t key = 0, value = 0;
    if (!read_varint(in, key)) return false;
    const auto wire = static_cast<unsigned>(key & 7);
    std::string_view bytes;
    if (wire == 0) {
      if (!read_varint(in, value)) return false;
    } else if (wire == 2) {
      if (!read_varint(in, value) || value > in.size()) return false;
      bytes = in.substr(0, value);
      in.remove_prefix(value);
    } else if (wire == 1 || wire == 5) {
      const std::size_t n = wire == 1 ? 8 : 4;
      if (in.size() < n) return false;
      in.remove_prefix(n);
    } else {
      return false;
    }
    on(key >> 3, wire, value, bytes);
  }
  return true;
}

std::optional<PartialSuccess> from_protobuf(std::string_view body) {
  PartialSuccess p;
  bool found = false;
  const bool ok = each_field(body, [&](std::uint64_t field, unsigned wire, std::uint64_t, std::string_view bytes) {
    if (field != 1 || wire != 2) return;
    found = each_field(bytes, [&](std::uint64_t f, unsigned w, std::uint64_t v, std::string_view b) {
      if (f == 1 && w == 0) p.rejected_spans = v;
      if (f == 2 && w == 2) p.message = daemon::printable_for_log(b);
    });
  });
  if (!ok || !found || p.rejected_spans == 0) return std::nullopt;
  return p;
}

std::optional<PartialSuccess> from_json(std::string_view body) {
  rapidjson::Document doc;
  // The receiver is untrusted: explicit length, iterative, validated, numbers as text.
  constexpr unsigned flags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
  doc.Parse<flags>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  const auto partial = doc.FindMember("partialSuccess");
  if (partial == doc.MemberEnd() || !partial->value.IsObject()) return std::nullopt;
  PartialSuccess p;
  const auto count = partial->value.FindMember("rejectedSpans");
  if (count == partial->value.MemberEnd() || !count->value.IsString()) return std::nullopt;
  const std::string_view text(count->value.GetString(), count->value.GetStringLength());
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), p.rejected_spans);
  if (ec != std::errc() || ptr != text.data() + text.size() || p.rejected_spans == 0) return std::nullopt;
  const auto message = partial->value.FindMember("errorMessage");
  if (message != partial->value.MemberEnd() && message->value.IsString())
    p.message = daemon::printable_for_log(std::string_view(message->value.GetString(), message->value.GetStringLength()));
  return p;
}

}  // namespace

std::optional<PartialSuccess> read_partial_success(std::string_view body, bool protobuf) {
  if (body.empty()) return std::nullopt;
  return protobuf ? from_protobuf(body) : from_json(body);
}

}  // namespace tracecol::exporters::http
