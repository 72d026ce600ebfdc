#include "client/cli/trace_record.hpp"

#include <rapidjson/document.h>

#include <charconv>
#include <cstdint>

#include "daemon/export/console_exporter.hpp"
#include "protocol/decoder.hpp"
#include "protocol/event.hpp"
#include "protocol/trace_tree.hpp"

namespace tracecol::cli {
namespace {

constexpr unsigned parse_flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;

protocol::DecodeOptions record_decode_options() {
  protocol::DecodeOptions o;
  // The daemon accepted these bytes under its own --max-depth; in a record they sit two
  // levels deeper, so only a generous cap (the decoder never recurses) reads them all.
  o.max_depth = 4096;
  return o;
}

/** "142", "0.5", "1.123" (ms, at most 3 decimals) to nanoseconds; nullopt otherwise. */
std::optional<std::int64_t> parse_ms_ns(std::string_view text) {
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::int64_t ms = 0;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), ms);
  if (ec != std::errc() || p != whole.data() + whole.size() || ms < 0 || ms > INT64_MAX / 1000000) return std::nullopt;
  std::int64_t frac_ns = 0;
  if (dot != std::string_view::npos) {
    const std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 6) return std::nullopt;
    std::int64_t scale = 100000;
    for (const char c : frac) {
      if (c < '0' || c > '9') return std::nullopt;
      frac_ns += (c - '0') * scale;
      scale /= 10;
    }
  }
  return ms * 1000000 + frac_ns;
}

bool flag(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

/** Applies the record-only members of one span object to the decoded span. */
void restore_span(const rapidjson::Value& obj, protocol::Span& span) {
  span.orphan = flag(obj, "orphan");
  span.late = flag(obj, "late");
  auto d = obj.FindMember("duration_ms");
  if (span.ended() && d != obj.MemberEnd() && d->value.IsString()) {
    const auto ns = parse_ms_ns(std::string_view(d->value.GetString(), d->value.GetStringLength()));
    if (ns && *ns <= INT64_MAX - span.started_at_ns) span.ended_at_ns = span.started_at_ns + *ns;
  }
}

/** json as a protocol line of the given type: `{"type":"<type>",` + json's members. */
std::optional<std::string> as_line(std::string_view json, std::string_view type) {
  const std::size_t open = json.find_first_not_of(" \t\r\n");
  if (open == std::string_view::npos || json[open] != '{') return std::nullopt;
  std::string line = "{\"type\":\"";
  line += type;
  line += "\",";
  line.append(json.substr(open + 1));
  return line;
}

}  // namespace

std::optional<protocol::Trace> decode_trace_record(std::string_view json, std::string& error) {
  rapidjson::Document doc;
  doc.Parse<parse_flags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = "not a JSON trace record";
    return std::nullopt;
  }
  auto spans = doc.FindMember("spans");
  if (spans == doc.MemberEnd() || !spans->value.IsArray()) {
    error = "trace record without spans";
    return std::nullopt;
  }
  auto line = as_line(json, "trace");
  if (!line) {
    error = "not a JSON object";
    return std::nullopt;
  }
  protocol::Decoder decoder(record_decode_options());
  protocol::Event event;
  const auto result = decoder.decode(*line, event);
  if (!result.ok) {
    error = "trace record refused by the decoder: " + std::string(protocol::to_string(result.reason));
    return std::nullopt;
  }
  const auto& array = spans->value.GetArray();
  if (event.type != protocol::EventType::trace || event.spans.size() != array.Size()) {
    error = "trace record decoded to something else";
    return std::nullopt;
  }
  protocol::Trace trace;
  trace.trace_id = event.trace_id;
  trace.run_id = std::move(event.run_id);
  trace.complete = flag(doc, "complete");
  trace.follow_up = flag(doc, "follow_up");
  trace.spans = std::move(event.spans);
  for (rapidjson::SizeType i = 0; i < array.Size(); ++i) {
    if (array[i].IsObject()) restore_span(array[i], trace.spans[i]);
  }
  return trace;
}

std::optional<protocol::Span> decode_span_record(std::string_view json, std::string& error) {
  rapidjson::Document doc;
  doc.Parse<parse_flags>(json.data(), json.size());
  auto line = as_line(json, "span");
  if (doc.HasParseError() || !doc.IsObject() || !line) {
    error = "not a JSON span record";
    return std::nullopt;
  }
  protocol::Decoder decoder(record_decode_options());
  protocol::Event event;
  const auto result = decoder.decode(*line, event);
  if (!result.ok) {
    error = "span record refused by the decoder: " + std::string(protocol::to_string(result.reason));
    return std::nullopt;
  }
  restore_span(doc, event.span);
  return std::move(event.span);
}

std::string render_console(const protocol::Trace& trace) {
  std::string out;
  exporters::ConsoleExporter::format(out, trace);
  return out;
}

std::string render_span_line(const protocol::Span& span) {
  // A one-span trace renders through the daemon's own header and tree code (and escaping).
  protocol::Trace one;
  one.trace_id = span.trace_id;
  one.run_id = span.run_id;
  one.spans.push_back(span);
  one.spans.back().parent_id = 0;
  one.spans.back().orphan = false;
  const std::string header = protocol::tree_header(one);  // "[Trace 3a7f1c2b] run_id=..."
  const std::size_t close = header.find(']');
  std::string row = protocol::as_tree(one);
  if (!row.empty() && row.back() == '\n') row.pop_back();
  std::string out = "[Span " + header.substr(7, close - 7) + " " + protocol::span_id_hex(span.span_id) + "] ";
  out += protocol::to_string(span.kind);
  out += ' ';
  out += row;
  out += header.substr(close + 1);
  out += '\n';
  return out;
}

}  // namespace tracecol::cli
