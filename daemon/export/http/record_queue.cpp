#include "daemon/export/http/record_queue.hpp"

namespace tracecol::exporters::http {

RecordQueue::Dropped RecordQueue::push(Record record) {
  bytes_ += record.bytes.size();
  spans_ += record.spans;
  records_.push_back(std::move(record));
  Dropped dropped;
  while (!records_.empty() && (records_.size() > limits_.max_traces || bytes_ > limits_.max_bytes)) {
    const Record& front = records_.front();
    ++dropped.traces;
    dropped.spans += front.spans;
    bytes_ -= front.bytes.size();
    spans_ -= front.spans;
    records_.pop_front();
  }
  return dropped;
}

std::vector<Record> RecordQueue::take(std::size_t max_traces, std::uint64_t max_bytes) {
  std::vector<Record> batch;
  std::uint64_t batch_bytes = 0;
  while (!records_.empty() && batch.size() < max_traces) {
    const std::uint64_t next = records_.front().bytes.size();
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
