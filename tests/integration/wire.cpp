#include "tests/integration/wire.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>

#include "tests/integration/harness.hpp"

namespace tracecol::integration {

namespace {

std::string fmt_time(double t) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", t);
  return buf;
}

}  // namespace

std::string span_json(const SpanSpec& s) {
  std::string out = R"({"type":")" + s.type + R"(","trace_id":")" + s.trace_id + R"(","span_id":")" + s.span_id + '"';
  if (!s.parent_id.empty()) out += R"(,"parent_id":")" + s.parent_id + '"';
  if (!s.run_id.empty()) out += R"(,"run_id":")" + s.run_id + '"';
  if (!s.name.empty()) out += R"(,"name":")" + s.name + '"';
  if (!s.kind.empty()) out += R"(,"kind":")" + s.kind + '"';
  if (s.started_at >= 0) out += R"(,"started_at":)" + fmt_time(s.started_at);
  if (s.ended_at >= 0) out += R"(,"ended_at":)" + fmt_time(s.ended_at);
  if (!s.extra.empty()) out += "," + s.extra;
  out += '}';
  return out;
}

std::string span_line(const SpanSpec& s) { return span_json(s) + '\n'; }

std::string trace_end_line(const std::string& trace_id) {
  return R"({"type":"trace_end","trace_id":")" + trace_id + "\"}\n";
}

std::string trace_line(const std::string& trace_id, const std::string& run_id,
                       const std::vector<SpanSpec>& spans) {
  std::string out = R"({"type":"trace","trace_id":")" + trace_id + R"(","run_id":")" + run_id + R"(","spans":[)";
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (i) out += ',';
    out += span_json(spans[i]);
  }
  return out + "]}\n";
}

std::string hex(unsigned long long v, int width) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%0*llx", width, v);
  return buf;
}

static std::string pad_lower(const std::string& id, std::size_t width) {
  std::string out;
  for (char c : id) out += static_cast<char>((c >= 'A' && c <= 'F') ? c - 'A' + 'a' : c);
  if (out.size() < width) out.insert(0, width - out.size(), '0');
  return out;
}

std::string trace_hex(const std::string& short_id) { return pad_lower(short_id, 32); }
std::string span_hex(const std::string& short_id) { return pad_lower(short_id, 16); }

NdjsonFile parse_ndjson(const std::string& text) {
  NdjsonFile f;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      f.torn_tail = true;
      nl = text.size();
    }
    ++f.line_count;
    rapidjson::Document d;
    d.Parse(text.data() + pos, nl - pos);
    if (d.HasParseError() || !d.IsObject()) {
      ++f.bad_lines;
    } else {
      f.records.push_back(std::move(d));
    }
    pos = nl + 1;
  }
  return f;
}

NdjsonFile read_ndjson(const std::string& path) { return parse_ndjson(read_file(path)); }

std::size_t count_lines(const std::string& path) {
  std::size_t n = 0;
  for (char c : read_file(path)) n += c == '\n';
  return n;
}

std::string str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return {};
  return v[key].GetString();
}

double num(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsNumber()) return -1;
  return v[key].GetDouble();
}

bool flag(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsBool() && v[key].GetBool();
}

bool is_null(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsNull();
}

std::string raw(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key)) return {};
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v[key].Accept(w);
  return sb.GetString();
}

std::vector<const rapidjson::Value*> records_for(const NdjsonFile& f, const std::string& trace_id) {
  std::vector<const rapidjson::Value*> out;
  for (const auto& r : f.records) {
    if (str(r, "trace_id") == trace_id) out.push_back(&r);
  }
  return out;
}

}  // namespace tracecol::integration
