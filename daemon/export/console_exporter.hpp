#pragma once
// The seed's console format: a header line, then the span tree, two spaces a level.

#include <string>

#include "daemon/export/exporter.hpp"

namespace tracecol::exporters {

struct ConsoleExporterOptions {
  int fd = 1;  // not owned: never closed by the exporter
};

/**
 * Writes "[Trace 3a7f1c2b] run_id=run-42" plus " (late spans)" for a follow-up record
 * and " (incomplete)" for a trace no completion rule ended, then protocol::as_tree().
 * One write() per trace (continued on EINTR and short writes), so records from one
 * exporter never interleave. Driven by one fan-out worker; not thread-safe itself.
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

}  // namespace tracecol::exporters
