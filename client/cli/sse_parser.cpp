#include "client/cli/sse_parser.hpp"

namespace tracecol::cli {

bool SseParser::feed(std::string_view chunk, std::vector<SseEvent>& out) {
  if (failed_) return false;
  if (at_start_) {
    // The BOM may itself arrive split: wait for three bytes before deciding.
    static constexpr std::string_view bom = "\xEF\xBB\xBF";
    pending_.append(chunk);
    if (pending_.size() < bom.size() && bom.starts_with(pending_)) return true;
    at_start_ = false;
    std::string first = std::move(pending_);
    pending_.clear();
    std::string_view rest(first);
    if (rest.starts_with(bom)) rest.remove_prefix(bom.size());
    return feed(rest, out);
  }
  std::size_t i = 0;
  if (skip_lf_ && !chunk.empty()) {
    if (chunk[0] == '\n') i = 1;
    skip_lf_ = false;
  }
  while (i < chunk.size()) {
    const std::size_t end = chunk.find_first_of("\r\n", i);
    if (end == std::string_view::npos) {
      pending_.append(chunk.substr(i));
      break;
    }
    std::string_view text = chunk.substr(i, end - i);
    if (!pending_.empty()) {
      pending_.append(text);
      line(pending_, out);
      pending_.clear();
    } else {
      line(text, out);
    }
    i = end + 1;
    if (chunk[end] == '\r') {
      if (i < chunk.size()) {
        if (chunk[i] == '\n') ++i;
      } else {
        skip_lf_ = true;
      }
    }
  }
  if (pending_.size() + building_.data.size() > max_event_bytes_) failed_ = true;
  return !failed_;
}

void SseParser::line(std::string_view text, std::vector<SseEvent>& out) {
  if (text.empty()) {
    if (has_data_) {
      building_.id = last_id_;
      out.push_back(std::move(building_));
    }
    building_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (text.front() == ':') {
    ++comments_;
    return;
  }
  const std::size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) building_.data += '\n';
    building_.data.append(value);
    has_data_ = true;
    if (building_.data.size() > max_event_bytes_) failed_ = true;
  } else if (field == "event") {
    building_.type = value.empty() ? std::string("message") : std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_ = value;
  }
  // "retry" and unknown fields are ignored, as EventSource ignores them here.
}

}  // namespace tracecol::cli
