#include "protocol/encoder.hpp"

#include <cinttypes>
#include <cstdio>

#include "protocol/trace_tree.hpp"

namespace tracecol::protocol {
namespace {

void append_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%" PRIu64, v);
  out.append(buf, static_cast<std::size_t>(n));
}

/** Milliseconds from a nanosecond difference, at most 3 decimals, no exponent, no inf. */
void append_duration_ms(std::string& out, std::int64_t ns) {
  const bool negative = ns < 0;
  const std::uint64_t us = static_cast<std::uint64_t>(negative ? -(ns / 1000) : ns / 1000);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%s%" PRIu64, negative ? "-" : "", us / 1000);
  if (const std::uint64_t frac = us % 1000; frac != 0) {
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%03" PRIu64, frac);
    while (buf[n - 1] == '0') --n;
  }
  out.append(buf, static_cast<std::size_t>(n));
}

void append_time_or_null(std::string& out, std::int64_t ns) {
  if (ns == 0) out += "null";
  else append_epoch_seconds(out, ns);
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_epoch_seconds(std::string& out, std::int64_t ns) {
  const bool negative = ns < 0;
  const std::uint64_t abs = negative ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%06" PRIu64, negative ? "-" : "",
                              abs / 1000000000u, (abs % 1000000000u) / 1000u);
  out.append(buf, static_cast<std::size_t>(n));
}

void append_span_json(std::string& out, const Span& span, int depth) {
  out += '{';
  append_key(out, "trace_id");
  out += '"';
  span.trace_id.append_hex(out);
  out += "\",";
  append_key(out, "span_id");
  out += '"';
  append_span_id_hex(out, span.span_id);
  out += "\",";
  append_key(out, "parent_id");
  if (span.parent_id == 0) {
    out += "null";
  } else {
    out += '"';
    append_span_id_hex(out, span.parent_id);
    out += '"';
  }
  out += ',';
  append_key(out, "run_id");
  append_json_string(out, span.run_id);
  out += ',';
  append_key(out, "name");
  append_json_string(out, span.name);
  out += ',';
  append_key(out, "kind");
  out += '"';
  out += to_string(span.kind);
  out += "\",";
  append_key(out, "started_at");
  append_epoch_seconds(out, span.started_at_ns);
  out += ',';
  append_key(out, "ended_at");
  append_time_or_null(out, span.ended_at_ns);
  out += ',';
  append_key(out, "duration_ms");
  if (span.ended()) append_duration_ms(out, span.ended_at_ns - span.started_at_ns);
  else out += "null";
  if (depth >= 0) {
    out += ',';
    append_key(out, "depth");
    append_u64(out, static_cast<std::uint64_t>(depth));
  }
  if (span.orphan) out += ",\"orphan\":true";
  if (span.late) out += ",\"late\":true";
  out += ',';
  append_key(out, "inputs");
  out += span.inputs.empty() ? std::string_view("{}") : std::string_view(span.inputs);
  out += ',';
  append_key(out, "outputs");
  out += span.outputs.empty() ? std::string_view("null") : std::string_view(span.outputs);
  out += ',';
  append_key(out, "error");
  if (span.has_error()) append_json_string(out, span.error);
  else out += "null";
  out += ',';
  append_key(out, "metadata");
  out += span.metadata.empty() ? std::string_view("{}") : std::string_view(span.metadata);
  out += '}';
}

void append_trace_json(std::string& out, const Trace& trace) {
  out += '{';
  append_key(out, "trace_id");
  out += '"';
  trace.trace_id.append_hex(out);
  out += "\",";
  append_key(out, "run_id");
  append_json_string(out, trace.run_id);
  out += ',';
  append_key(out, "complete");
  out += trace.complete ? "true" : "false";
  if (trace.follow_up) out += ",\"follow_up\":true";
  const std::int64_t start = trace.started_at_ns();
  const std::int64_t end = trace.ended_at_ns();
  out += ',';
  append_key(out, "started_at");
  append_time_or_null(out, start);
  out += ',';
  append_key(out, "ended_at");
  append_time_or_null(out, end);
  out += ',';
  append_key(out, "duration_ms");
  if (end != 0) append_duration_ms(out, end - start);
  else out += "null";
  out += ',';
  append_key(out, "span_count");
  append_u64(out, trace.spans.size());
  out += ',';
  append_key(out, "error_count");
  append_u64(out, trace.error_count());
  out += ",\"spans\":[";
  bool first = true;
  for (const TreeRow& row : tree_order(trace)) {
    if (!first) out += ',';
    first = false;
    const Span& span = trace.spans[row.index];
    if (row.orphan && !span.orphan) {
      Span marked = span;  // rare: only orphans pay for the copy
      marked.orphan = true;
      append_span_json(out, marked, row.depth);
    } else {
      append_span_json(out, span, row.depth);
    }
  }
  out += "]}";
}

}  // namespace tracecol::protocol
