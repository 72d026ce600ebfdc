#include <utility>

#include "daemon/assembly/open_trace.hpp"
#include "protocol/json_merge.hpp"

namespace tracecol::assembly {

using protocol::Span;

Span* find_span(protocol::Trace& trace, protocol::SpanId id, const SpanIndex* index) {
  if (index != nullptr) {
    auto it = index->find(id);
    return it == index->end() ? nullptr : &trace.spans[it->second];
  }
  for (Span& s : trace.spans)
    if (s.span_id == id) return &s;
  return nullptr;
}

void index_appended(const protocol::Trace& trace, std::unique_ptr<SpanIndex>& index) {
  const auto last = static_cast<std::uint32_t>(trace.spans.size() - 1);
  if (index) {
    index->emplace(trace.spans[last].span_id, last);
  } else if (trace.spans.size() > linear_scan_limit) {
    index = std::make_unique<SpanIndex>();
    index->reserve(trace.spans.size() * 2);
    for (std::uint32_t i = 0; i <= last; ++i) index->emplace(trace.spans[i].span_id, i);
  }
}

Merge merge_span(Span& stored, Span&& update, bool is_end) {
  const auto has_new = [&](protocol::SpanField f) { return update.has(f) && (is_end || !stored.has(f)); };
  const bool new_start = update.has(protocol::field_started_at) && !stored.has(protocol::field_started_at);
  const std::int64_t start = new_start ? update.started_at_ns : stored.started_at_ns;
  const std::int64_t end = has_new(protocol::field_ended_at) ? update.ended_at_ns : stored.ended_at_ns;
  // The decoder refuses end before start within a line; across the halves of a span (or
  // its copies) it is refused here, whole, so neither time is silently rewritten. A lone
  // span_end's placeholder start is no sent time and follows the end (below).
  const bool start_sent = new_start || stored.has(protocol::field_started_at);
  if (start_sent && end != 0 && end < start) return Merge::refused;
  bool changed = false;
  // Overwrites a value the update carries anew; notes whether it differed.
  const auto take = [&](auto& field, auto&& value) {
    if (field != value) {
      field = std::forward<decltype(value)>(value);
      changed = true;
    }
  };
  if (has_new(protocol::field_ended_at)) take(stored.ended_at_ns, update.ended_at_ns);
  if (new_start) take(stored.started_at_ns, update.started_at_ns);
  if (update.has(protocol::field_parent_id) && !stored.has(protocol::field_parent_id))
    take(stored.parent_id, update.parent_id);
  if (update.has(protocol::field_kind) && !stored.has(protocol::field_kind)) take(stored.kind, update.kind);
  if (update.has(protocol::field_name) && !stored.has(protocol::field_name)) take(stored.name, std::move(update.name));
  if (update.has(protocol::field_run_id) && !stored.has(protocol::field_run_id))
    take(stored.run_id, std::move(update.run_id));
  if (update.has(protocol::field_inputs) && !stored.has(protocol::field_inputs))
    take(stored.inputs, std::move(update.inputs));
  if (has_new(protocol::field_outputs)) take(stored.outputs, std::move(update.outputs));
  if (has_new(protocol::field_error)) take(stored.error, std::move(update.error));
  if (update.has(protocol::field_metadata)) {
    if (!stored.has(protocol::field_metadata)) take(stored.metadata, std::move(update.metadata));
    else if (is_end) take(stored.metadata, protocol::merge_json_objects(stored.metadata, update.metadata));
  }
  // The first copy that came over the socket names the peer; a later copy (e.g. the same
  // span inside export(trace)) comes from the same agent or from nobody the kernel vouched for.
  if (update.has_peer && !stored.has_peer) {
    stored.has_peer = true;
    stored.peer_pid = update.peer_pid;
    stored.peer_uid = update.peer_uid;
    changed = true;
  }
  // A lone span_end's placeholder start follows a second span_end that moved the end earlier.
  if (stored.ended_at_ns != 0 && stored.started_at_ns > stored.ended_at_ns) stored.started_at_ns = stored.ended_at_ns;
  if ((stored.fields | update.fields) != stored.fields) changed = true;
  stored.fields |= update.fields;
  return changed ? Merge::changed : Merge::unchanged;
}

}  // namespace tracecol::assembly
