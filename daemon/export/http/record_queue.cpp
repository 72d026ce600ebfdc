#include "daemon/export/http/record_queue.hpp"

#include <algorithm>

namespace tracecol::exporters::http {

std::uint64_t encoded_size_estimate(const protocol::Trace& trace) {
  // Per span, OTLP JSON: ~768 bytes of ids, times, kind, status and attribute keys; the run
  // id (session.id); inputs and outputs with a quarter for escaping;
  // metadata four times over, each key becoming a whole attribute object. Never less than
  // the span's footprint in memory, which the queue keeps alive after the store evicts it.
  std::uint64_t estimate = 64;
  for (const auto& s : trace.spans) {
    const std::uint64_t encoded = 768 + s.name.size() + s.run_id.size() + s.error.size() +
                                  (s.inputs.size() + s.outputs.size()) * 5 / 4 + 4 * s.metadata.size();
    estimate += std::max<std::uint64_t>(encoded, s.footprint());
  }
  return estimate;
}

RecordQueue::Dropped RecordQueue::push(Record record) {
  bytes_ += record.bytes;
  spans_ += record.spans;
  records_.push_back(std::move(record));
  return trim();
}

RecordQueue::Dropped RecordQueue::put_back(std::vector<Record> records) {
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    bytes_ += it->bytes;
    spans_ += it->spans;
    records_.push_front(std::move(*it));
  }
  return trim();
}

RecordQueue::Dropped RecordQueue::trim() {
  Dropped dropped;
  while (!records_.empty() && (records_.size() > limits_.max_traces || bytes_ > limits_.max_bytes)) {
    const Record& front = records_.front();
    ++dropped.traces;
    dropped.spans += front.spans;
    bytes_ -= front.bytes;
    spans_ -= front.spans;
    records_.pop_front();
  }
  return dropped;
}

std::vector<Record> RecordQueue::take(std::size_t max_traces, std::uint64_t max_bytes) {
  std::vector<Record> batch;
  std::uint64_t batch_bytes = 0;
  while (!records_.empty() && batch.size() < max_traces) {
    const std::uint64_t next = records_.front().bytes;
    if (!batch.empty() && batch_bytes + next > max_bytes) break;
    batch_bytes += next;
    bytes_ -= next;
    spans_ -= records_.front().spans;
    batch.push_back(std::move(records_.front()));
    records_.pop_front();
  }
  return batch;
}

RecordQueue::Dropped RecordQueue::clear() {
  Dropped d{records_.size(), spans_};
  records_.clear();
  bytes_ = 0;
  spans_ = 0;
  return d;
}

}  // namespace tracecol::exporters::http
