#include "daemon/http/api.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "protocol/encoder.hpp"
#include "protocol/trace_tree.hpp"

namespace tracecol::http {
namespace {

void append_duration(std::string& out, std::int64_t start, std::int64_t end) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(end - start) / 1e6);
  std::string_view s(buf);
  while (s.ends_with('0')) s.remove_suffix(1);
  if (s.ends_with('.')) s.remove_suffix(1);
  out.append(s);
}

/** The root's name: the first span in tree order (empty for an empty trace). */
std::string_view root_name(const protocol::Trace& trace) {
  for (const auto& s : trace.spans) {
    if (s.parent_id == 0) return s.name;
  }
  const auto rows = protocol::tree_order(trace);
  return rows.empty() ? std::string_view{} : std::string_view(trace.spans[rows.front().index].name);
}

}  // namespace

Response error_response(unsigned status, std::string_view message) {
  Response r;
  r.status = status;
  r.body = "{\"error\":";
  protocol::append_json_string(r.body, message);
  r.body += '}';
  return r;
}

void append_trace_summary(std::string& out, const protocol::Trace& trace) {
  out += "{\"trace_id\":\"";
  trace.trace_id.append_hex(out);
  out += "\",\"run_id\":";
  protocol::append_json_string(out, trace.run_id);
  out += ",\"name\":";
  protocol::append_json_string(out, root_name(trace));
  out += ",\"span_count\":" + std::to_string(trace.spans.size());
  out += ",\"error_count\":" + std::to_string(trace.error_count());
  const std::int64_t start = trace.started_at_ns();
  const std::int64_t end = trace.ended_at_ns();
  out += ",\"started_at\":";
  if (start != 0) protocol::append_epoch_seconds(out, start);
  else out += "null";
  out += ",\"duration_ms\":";
  if (start != 0 && end != 0) append_duration(out, start, end);
  else out += "null";
  out += ",\"complete\":";
  out += trace.complete ? "true" : "false";
  out += '}';
}

Response list_traces(const store::TraceStore& store, const ListQuery& query) {
  const std::size_t page = query.filter.limit;
  store::TraceFilter filter = query.filter;
  std::vector<store::TracePtr> found;
  std::size_t begin = 0;
  if (!query.cursor) {
    filter.limit = page + 1;
    found = store.find(filter);
  } else {
    filter.limit = std::max(store.limits().max_traces, page + 1);
    found = store.find(filter);
    auto it = std::find_if(found.begin(), found.end(), [&](const auto& t) { return t->trace_id == *query.cursor; });
    if (it != found.end()) {
      begin = static_cast<std::size_t>(it - found.begin()) + 1;
    } else {
      // The cursor's trace no longer matches the filter (a late span changed it): find its
      // place among all stored traces and keep the matches stored before it.
      const auto all = store.last(store.limits().max_traces);
      std::unordered_map<protocol::TraceId, std::size_t> position;
      for (std::size_t i = 0; i < all.size(); ++i) position.emplace(all[i]->trace_id, i);
      auto cursor_at = position.find(*query.cursor);
      begin = found.size();
      if (cursor_at != position.end()) {
        for (std::size_t i = 0; i < found.size(); ++i) {
          auto p = position.find(found[i]->trace_id);
          if (p != position.end() && p->second > cursor_at->second) {
            begin = i;
            break;
          }
        }
      }
    }
  }
  const std::size_t end = std::min(found.size(), begin + page);
  Response r;
  r.body = "{\"traces\":[";
  for (std::size_t i = begin; i < end; ++i) {
    if (i != begin) r.body += ',';
    append_trace_summary(r.body, *found[i]);
  }
  r.body += "],\"next_cursor\":";
  if (found.size() > end) {
    r.body += '"';
    found[end - 1]->trace_id.append_hex(r.body);
    r.body += '"';
  } else {
    r.body += "null";
  }
  r.body += '}';
  return r;
}

Response get_trace(const store::TraceStore& store, std::string_view id_text) {
  const auto id = protocol::parse_trace_id(id_text);
  if (!id) return error_response(400, "malformed trace id");
  // A frozen trace's record comes from the store's cache: rendered once, not per GET.
  auto json = store.get_json(*id);
  if (!json) return error_response(404, "trace not found");
  Response r;
  r.shared_body = std::move(json);
  return r;
}

Response get_trace_tree(const store::TraceStore& store, std::string_view id_text) {
  const auto id = protocol::parse_trace_id(id_text);
  if (!id) return error_response(400, "malformed trace id");
  const auto trace = store.get(*id);
  if (!trace) return error_response(404, "trace not found");
  Response r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = protocol::tree_header(*trace) + "\n" + protocol::as_tree(*trace);
  return r;
}

Response get_run(const store::TraceStore& store, std::string_view run_id) {
  const auto traces = store.list(run_id);
  if (traces.empty()) return error_response(404, "run not found");
  Response r;
  r.body = "{\"run_id\":";
  protocol::append_json_string(r.body, run_id);
  r.body += ",\"traces\":[";
  for (std::size_t i = 0; i < traces.size(); ++i) {
    if (i != 0) r.body += ',';
    protocol::append_trace_json(r.body, *traces[i]);
  }
  r.body += "]}";
  return r;
}

DecodedBody decode_body(std::string_view body, protocol::Decoder& decoder, std::size_t max_line_bytes) {
  DecodedBody out;
  std::size_t line_number = 0;
  while (!body.empty()) {
    const std::size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    ++line_number;
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      ++out.blank_lines;  // (after a final '\n' the loop has ended: that is no line)
      continue;
    }
    ++out.lines;
    if (line.size() > max_line_bytes) {
      ++out.too_long;
      out.errors.push_back({line_number, std::string(protocol::to_string(protocol::RejectReason::line_too_long))});
      continue;
    }
    protocol::Event& event = out.batch.events.emplace_back();
    const protocol::DecodeResult result = decoder.decode(line, event);
    if (!result.ok) {
      out.batch.events.pop_back();
      out.errors.push_back({line_number, std::string(protocol::to_string(result.reason))});
      continue;
    }
    if (!event.is_data()) {
      // flush and hello mean nothing over HTTP: the response itself is the flush.
      out.batch.events.pop_back();
      ++out.control_lines;
      continue;
    }
    out.event_lines.push_back(line_number);
  }
  return out;
}

Response ingest_response(DecodedBody& decoded, const std::vector<ingest::AppliedRejection>& applied) {
  for (const auto& a : applied) {
    const std::size_t line = a.index < decoded.event_lines.size() ? decoded.event_lines[a.index] : 0;
    decoded.errors.push_back({line, std::string(protocol::to_string(a.reason))});
  }
  std::stable_sort(decoded.errors.begin(), decoded.errors.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
  // The batch itself was moved into the pipeline: event_lines still counts its events.
  const std::size_t events = decoded.event_lines.size();
  const std::size_t accepted = events - std::min(applied.size(), events);
  Response r;
  r.body = "{\"accepted\":" + std::to_string(accepted) + ",\"rejected\":" + std::to_string(decoded.errors.size()) +
           ",\"errors\":[";
  for (std::size_t i = 0; i < decoded.errors.size() && i < max_reported_errors; ++i) {
    if (i != 0) r.body += ',';
    r.body += "{\"line\":" + std::to_string(decoded.errors[i].line) + ",\"reason\":";
    protocol::append_json_string(r.body, decoded.errors[i].reason);
    r.body += '}';
  }
  r.body += "]}";
  return r;
}

}  // namespace tracecol::http
