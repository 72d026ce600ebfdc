#include "daemon/assembly/late_spans.hpp"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace tracecol::assembly {

using protocol::Span;
using protocol::Trace;

LateSpans::Outcome LateSpans::add(store::TraceStore::Transaction& txn, Span&& span, bool is_end,
                                  std::size_t max_spans, std::size_t max_bytes) {
  const protocol::TraceId id = span.trace_id;
  // Refusals come before thaw(): no copy of a big exported trace for a span it won't take.
  if (would_exceed(txn.bytes_of(id), span, max_bytes)) return Outcome::trace_too_large;
  if (const Trace* seen = txn.peek(id); seen != nullptr && seen->spans.size() >= max_spans &&
      std::none_of(seen->spans.begin(), seen->spans.end(), [&](const Span& s) { return s.span_id == span.span_id; })) {
    return Outcome::too_many_spans;
  }
  Trace* stored = txn.thaw(id);
  PerTrace& late = traces_[id];
  if (late.indexed_spans != stored->spans.size()) late.index.reset();  // defensive: never trust a stale index
  if (!late.index && stored->spans.size() > linear_scan_limit) {
    late.index = std::make_unique<SpanIndex>();
    late.index->reserve(stored->spans.size() * 2);
    for (std::uint32_t i = 0; i < stored->spans.size(); ++i) late.index->emplace(stored->spans[i].span_id, i);
  }
  Outcome outcome = Outcome::added;
  if (Span* known = find_span(*stored, span.span_id, late.index.get())) {
    // Already exported once: the stored copy learns the new fields. A copy that said
    // nothing new (the same span sent again) tells nobody; one that did (the span_end of
    // a span exported open when its trace timed out: its end, outputs, error) goes out in
    // the follow-up record, or the exporters would never hear how the span ended.
    const std::size_t before = known->footprint();
    const Merge merge = merge_span(*known, std::move(span), is_end);
    if (merge != Merge::refused) {
      txn.add_bytes(id, static_cast<std::ptrdiff_t>(known->footprint()) - static_cast<std::ptrdiff_t>(before), 0);
      outcome = merge == Merge::changed ? Outcome::merged : Outcome::unchanged;
      if (merge == Merge::changed) {
        Span update = *known;
        update.late = true;
        update.update = true;
        record_of(late, *stored).put_update(std::move(update));
      }
    } else {
      outcome = Outcome::bad_time;
    }
  } else if (stored->spans.size() >= max_spans) {
    outcome = Outcome::too_many_spans;
  } else {
    if (is_end && !span.has(protocol::field_started_at)) span.started_at_ns = span.ended_at_ns;  // placeholder
    if (span.run_id.empty()) span.run_id = stored->run_id;
    span.late = true;
    record_of(late, *stored).add(Span(span));  // exporters get this copy, the store keeps the span
    txn.add_bytes(id, static_cast<std::ptrdiff_t>(span.footprint()), 1);
    stored->spans.push_back(std::move(span));
    index_appended(*stored, late.index);
  }
  late.indexed_spans = stored->spans.size();
  txn.refreeze(id);
  return outcome;
}

LateSpans::Record LateSpans::record_of(PerTrace& late, const Trace& stored) {
  if (late.record == no_record) {
    auto record = std::make_shared<Trace>();
    record->trace_id = stored.trace_id;
    record->run_id = stored.run_id;
    record->complete = true;
    record->follow_up = true;
    late.record = records_.size();
    records_.push_back(std::move(record));
  }
  return Record{*records_[late.record]};
}

void LateSpans::Record::put_update(Span&& span) {
  // A span both added and updated in one apply goes out once, as it stands at the end
  // (still a new span, not an update: it was never published before).
  for (Span& s : trace.spans) {
    if (s.span_id == span.span_id) {
      const bool update = s.update;
      s = std::move(span);
      s.update = update;
      return;
    }
  }
  trace.spans.push_back(std::move(span));
}

void LateSpans::settle(store::TraceStore::Transaction& txn) {
  for (auto& [id, late] : traces_) {
    if (late.record == no_record) continue;
    const Trace* stored = txn.peek(id);
    if (stored == nullptr) continue;
    const SpanIndex* index = late.indexed_spans == stored->spans.size() ? late.index.get() : nullptr;
    for (Span& s : records_[late.record]->spans)
      if (s.parent_id != 0) s.orphan = find_span(*stored, s.parent_id, index) == nullptr;
  }
}

std::vector<std::shared_ptr<Trace>> LateSpans::take() {
  // Indexes outlive the apply (evicted traces are caught by forget() or the size check);
  // entries without one, and all of them past the bound, go.
  if (traces_.size() > max_indexes) {
    traces_.clear();
  } else {
    std::erase_if(traces_, [](const auto& entry) { return !entry.second.index; });
    for (auto& [id, late] : traces_) late.record = no_record;
  }
  return std::exchange(records_, {});
}

}  // namespace tracecol::assembly
