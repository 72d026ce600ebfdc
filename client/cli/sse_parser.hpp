#pragma once
// An incremental text/event-stream parser (the WHATWG EventSource rules): bytes in, in
// chunks split anywhere, whole events out.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tracecol::cli {

struct SseEvent {
  std::string type = "message";  // the "event:" field; "message" when absent
  std::string data;              // "data:" lines joined by '\n'
  std::string id;                // the last "id:" seen (sticky, as EventSource keeps it)
};

/**
 * Lines end in "\n", "\r\n" or "\r" (a "\r\n" split across two chunks counts once); a
 * blank line dispatches the event being built when it has data; ":" lines are comments;
 * one space after the field's colon is dropped; a leading UTF-8 BOM is skipped. One
 * parser per connection; not thread-safe.
 */
class SseParser {
 public:
  explicit SseParser(std::size_t max_event_bytes = std::size_t{256} << 20) : max_event_bytes_(max_event_bytes) {}

  /**
   * Appends the events completed by chunk to out. False once an event or a line grows
   * past max_event_bytes: the stream is unusable and the parser stays failed.
   */
  bool feed(std::string_view chunk, std::vector<SseEvent>& out);

  std::size_t comments() const { return comments_; }
  bool failed() const { return failed_; }

 private:
  void line(std::string_view text, std::vector<SseEvent>& out);

  std::size_t max_event_bytes_;
  std::string pending_;     // a line not yet ended
  SseEvent building_;
  bool has_data_ = false;
  bool skip_lf_ = false;    // the previous chunk ended in '\r'
  bool at_start_ = true;    // BOM check still due
  bool failed_ = false;
  std::size_t comments_ = 0;
  std::string last_id_;
};

}  // namespace tracecol::cli
