#include "client/cli/table.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace tracecol::cli {
namespace {

std::size_t display_width(std::string_view s) {
  // Counts code points: every byte that is not a UTF-8 continuation byte.
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string member_text(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

bool member_bool(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

}  // namespace

/**
 * A summary's STATUS, in the web UI's words: "running" while the trace has no end yet
 * (duration_ms null), then "complete" or "incomplete" (exported by the idle timeout,
 * an eviction or shutdown with something still open).
 */
std::string trace_status(const rapidjson::Value& t) {
  const auto duration = t.FindMember("duration_ms");
  if (duration == t.MemberEnd() || duration->value.IsNull()) return "running";
  return member_bool(t, "complete") ? "complete" : "incomplete";
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char buf[8];
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(text[i + 1]));
      out += buf;
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], display_width(row[i]));
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string empty;
      const std::string& cell = i < row.size() ? row[i] : empty;
      line += cell;
      if (i + 1 < width.size()) line.append(width[i] - display_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(header);
  for (const auto& row : rows) emit(row);
  return out;
}

std::string format_duration_ms(std::string_view ms_text) {
  double ms = 0;
  const auto [p, ec] = std::from_chars(ms_text.data(), ms_text.data() + ms_text.size(), ms);
  if (ms_text.empty() || ec != std::errc() || p != ms_text.data() + ms_text.size()) return "-";
  char buf[48];
  if (ms < 10) std::snprintf(buf, sizeof buf, "%.1fms", ms);
  else if (ms < 10000) std::snprintf(buf, sizeof buf, "%.0fms", ms);
  else std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000);
  return buf;
}

std::string format_epoch(std::string_view seconds_text) {
  double s = 0;
  const auto [p, ec] = std::from_chars(seconds_text.data(), seconds_text.data() + seconds_text.size(), s);
  if (seconds_text.empty() || ec != std::errc() || s < 0 || s > 253402300799.0) return "-";
  const auto whole = static_cast<std::time_t>(s);
  int ms = static_cast<int>((s - static_cast<double>(whole)) * 1000);
  ms = std::clamp(ms, 0, 999);
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::optional<std::string> traces_table(std::string_view body, std::string& error, bool& more) {
  rapidjson::Document doc;
  constexpr unsigned flags =
      rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;
  doc.Parse<flags>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = "the daemon's answer is not JSON";
    return std::nullopt;
  }
  auto traces = doc.FindMember("traces");
  if (traces == doc.MemberEnd() || !traces->value.IsArray()) {
    error = "the daemon's answer has no traces array";
    return std::nullopt;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : traces->value.GetArray()) {
    if (!t.IsObject()) continue;
    rows.push_back({printable(member_text(t, "trace_id")), format_epoch(member_text(t, "started_at")),
                    format_duration_ms(member_text(t, "duration_ms")), member_text(t, "span_count"),
                    member_text(t, "error_count"), trace_status(t),
                    printable(member_text(t, "run_id")), printable(member_text(t, "name"))});
  }
  std::string out = format_table({"TRACE_ID", "STARTED (UTC)", "DURATION", "SPANS", "ERRORS", "STATUS", "RUN_ID", "NAME"}, rows);
  more = !member_text(doc, "next_cursor").empty();
  return out;
}

}  // namespace tracecol::cli
