#pragma once
// Builders for protocol lines the tests send, and a reader for the NDJSON the daemon writes.

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace tracecol::integration {

/** One span event as the tests send it. Empty strings / negative times leave a field out. */
struct SpanSpec {
  std::string type = "span";
  std::string trace_id;
  std::string span_id;
  std::string parent_id;  // empty: root (field absent)
  std::string run_id = "run-1";
  std::string name = "step";
  std::string kind = "CUSTOM";
  double started_at = 1732500000.0;
  double ended_at = 1732500000.1;  // < 0: absent
  std::string extra;               // raw `"key":value,...` appended inside the object

  SpanSpec() = default;
  SpanSpec(std::string trace, std::string span, std::string parent = {})
      : trace_id(std::move(trace)), span_id(std::move(span)), parent_id(std::move(parent)) {}
  SpanSpec& as(std::string t) { type = std::move(t); return *this; }
  SpanSpec& run(std::string r) { run_id = std::move(r); return *this; }
  SpanSpec& named(std::string n) { name = std::move(n); return *this; }
  SpanSpec& of_kind(std::string k) { kind = std::move(k); return *this; }
  SpanSpec& at(double start, double end) { started_at = start; ended_at = end; return *this; }
  SpanSpec& with(std::string e) { extra = std::move(e); return *this; }
};

/** The span as one NDJSON line, with the trailing '\n'. */
std::string span_line(const SpanSpec& s);
/** The span as a JSON object (no newline), for embedding in a trace event. */
std::string span_json(const SpanSpec& s);
std::string trace_end_line(const std::string& trace_id);
/** `{"type":"trace","trace_id":..,"run_id":..,"spans":[...]}` + '\n'. */
std::string trace_line(const std::string& trace_id, const std::string& run_id,
                       const std::vector<SpanSpec>& spans);

/** Lowercase hex of `v` left-padded with zeros to `width` digits. */
std::string hex(unsigned long long v, int width);
/** The daemon's form of an id: lowercase, left-padded to 32 (trace) or 16 (span) digits. */
std::string trace_hex(const std::string& short_id);
std::string span_hex(const std::string& short_id);

/** What an NDJSON file held. */
struct NdjsonFile {
  std::vector<rapidjson::Document> records;
  std::size_t bad_lines = 0;       // lines that do not parse as a JSON object
  bool torn_tail = false;          // last line lacks its '\n'
  std::size_t line_count = 0;
};

NdjsonFile parse_ndjson(const std::string& text);
NdjsonFile read_ndjson(const std::string& path);
/** Number of '\n' in a file (cheap progress probe). */
std::size_t count_lines(const std::string& path);

/** Field accessors that tolerate absence (empty string / -1 / false). */
std::string str(const rapidjson::Value& v, const char* key);
double num(const rapidjson::Value& v, const char* key);
bool flag(const rapidjson::Value& v, const char* key);
bool is_null(const rapidjson::Value& v, const char* key);
/** The object member `key` re-serialized compactly ("" when absent). */
std::string raw(const rapidjson::Value& v, const char* key);

/** The trace records in `f` whose trace_id equals `trace_id` (full 32-hex form). */
std::vector<const rapidjson::Value*> records_for(const NdjsonFile& f, const std::string& trace_id);

}  // namespace tracecol::integration
