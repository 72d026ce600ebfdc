#include "daemon/export/console_exporter.hpp"

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <unistd.h>

#include "daemon/log.hpp"
#include "protocol/trace_tree.hpp"

namespace tracecol::exporters {
namespace {

// A closed stdout fails every trace: one line a second says so.
daemon::RateLimiter console_error_log(1);

/** Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
std::size_t utf8_length(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n;
  char32_t min;
  if (c < 0x80) { cp = c; return 1; }
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; min = 0x80; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; min = 0x800; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; min = 0x10000; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool bidi_control(char32_t cp) { return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069); }

}  // namespace

void append_terminal_safe(std::string& out, std::string_view text) {
  char buf[12];
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {  // the common case: printable ASCII
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    char32_t cp = 0;
    const std::size_t n = utf8_length(text, i, cp);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD: one per bad byte, resynchronising on the next
      ++i;
      continue;
    }
    if (cp == '\n') {
      out += '\n';
    } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if (bidi_control(cp)) {
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
}

void ConsoleExporter::format(std::string& out, const protocol::Trace& trace) {
  // Built first, then neutralised as a whole: the one place every agent string passes.
  std::string text = protocol::tree_header(trace);
  if (trace.follow_up) text += " (late spans)";
  else if (!trace.complete) text += " (incomplete)";  // late spans are never "complete"
  text += '\n';
  text += protocol::as_tree(trace);
  if (text.back() != '\n') text += '\n';
  out.clear();
  out.reserve(text.size());
  append_terminal_safe(out, text);
}

ExportStatus ConsoleExporter::export_trace(const protocol::Trace& trace) {
  format(buffer_, trace);
  const char* p = buffer_.data();
  std::size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(options_.fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::uint64_t suppressed = 0;
      if (console_error_log.allow(&suppressed))
        daemon::log(daemon::LogLevel::warn,
                    "export-console: writing a trace failed: %s; counted as failed (%llu similar messages suppressed)",
                    std::strerror(errno), static_cast<unsigned long long>(suppressed));
      return ExportStatus::failed;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return ExportStatus::ok;
}

}  // namespace tracecol::exporters
