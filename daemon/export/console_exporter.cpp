#include "daemon/export/console_exporter.hpp"

#include <cerrno>
#include <unistd.h>

#include "protocol/trace_tree.hpp"

namespace tracecol::exporters {

void ConsoleExporter::format(std::string& out, const protocol::Trace& trace) {
  out.clear();
  out += protocol::tree_header(trace);
  if (trace.follow_up) out += " (late spans)";
  else if (!trace.complete) out += " (incomplete)";  // late spans are never "complete"
  out += '\n';
  out += protocol::as_tree(trace);
  if (out.back() != '\n') out += '\n';
}

ExportStatus ConsoleExporter::export_trace(const protocol::Trace& trace) {
  format(buffer_, trace);
  const char* p = buffer_.data();
  std::size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(options_.fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ExportStatus::failed;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return ExportStatus::ok;
}

}  // namespace tracecol::exporters
