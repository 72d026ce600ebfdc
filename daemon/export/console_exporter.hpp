#pragma once
// The seed's console format: a header line, then the span tree, two spaces a level (up
// to protocol::tree_indent_cap; deeper lines say "[depth N]").

#include <string>
#include <string_view>

#include "daemon/export/exporter.hpp"

namespace tracecol::exporters {

struct ConsoleExporterOptions {
  int fd = 1;  // not owned: never closed by the exporter
};

/**
 * Writes "[Trace 3a7f1c2b] run_id=run-42" plus " (late spans)" for a follow-up record
 * and " (incomplete)" for a trace no completion rule ended, then protocol::as_tree().
 * Everything agents supplied (names, run ids, errors) reaches the terminal neutralised:
 * see append_terminal_safe. One write() per trace (continued on EINTR and short
 * writes), so records from one exporter never interleave. Driven by one fan-out worker;
 * not thread-safe itself.
 */
class ConsoleExporter final : public Exporter {
 public:
  explicit ConsoleExporter(ConsoleExporterOptions options = {}) : options_(options) {}

  std::string_view name() const override { return "console"; }
  ExportStatus export_trace(const protocol::Trace& trace) override;

  /** The exact text export_trace writes for trace. */
  static void format(std::string& out, const protocol::Trace& trace);

 private:
  ConsoleExporterOptions options_;
  std::string buffer_;  // reused across traces
};

/**
 * Appends text so that a terminal shows it and obeys none of it: '\n' is kept (the
 * caller's line structure; as_tree already escapes newlines inside names), every other
 * C0 control, DEL and C1 control (U+0080..U+009F, e.g. the one-byte CSI) becomes "\xNN",
 * bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069: text that reads
 * differently than it is) become "\uNNNN", and bytes that are not UTF-8 become U+FFFD.
 */
void append_terminal_safe(std::string& out, std::string_view text);

}  // namespace tracecol::exporters
