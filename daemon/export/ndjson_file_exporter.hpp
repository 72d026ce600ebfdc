#pragma once
// NDJSON file output: one trace (or one span) per line, appended with O_APPEND, whole
// lines only, size rotation and reopen on SIGHUP.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "daemon/export/exporter.hpp"

namespace tracecol::exporters {

enum class FileMode { traces, spans };

struct NdjsonFileOptions {
  using FileMode = exporters::FileMode;
  std::string path;
  FileMode mode = FileMode::traces;         // a line per trace, or a line per span
  // Rotate before a record would push the file past this; 0: never. A record larger than
  // max_bytes is still written whole, alone in a fresh file (lines are never split).
  std::uint64_t max_bytes = 0;
  int max_backups = 5;                      // path.1 .. path.N kept; the oldest is dropped
  int write_attempts = 3;                   // per record, before the record counts as failed
  // Slept between attempts on the exporter's worker, doubled each time: 100 + 200 ms for
  // the default three attempts, so a full disk costs each record about 0.3 s.
  std::chrono::milliseconds retry_backoff{100};
  mode_t file_mode = 0640;                  // for a file this exporter creates
};

/** Snapshot of the exporter's own counters. */
struct NdjsonFileStats {
  std::uint64_t bytes_written = 0;
  std::uint64_t rotations = 0;
  std::uint64_t write_errors = 0;  // failed or short write attempts, failed opens and renames
  std::uint64_t reopens = 0;
};

/**
 * Appends protocol::append_trace_json lines (traces mode) or append_span_json lines with
 * tree depth (spans mode; every span of the trace, in tree order). A record (one trace's
 * text) is one write(), made only once RLIMIT_FSIZE allows it and fallocate reserved its
 * blocks, so a full disk fails before a byte is written; should a write still be short
 * or fail (ENOSPC, EIO, EDQUOT, EFBIG) the file is truncated back so no partial line
 * remains. A failed record is retried with backoff and finally reported failed (the
 * fan-out counts it); the next record tries again, so writing resumes once space returns.
 * Several exporters or processes may append to one file: lines never interleave (one
 * O_APPEND write each), but rotation and truncation assume one writer.
 * Driven by one fan-out worker; only stats() may be called from other threads.
 */
class NdjsonFileExporter final : public Exporter {
 public:
  /** Opens (creates) the file now; if that fails, each record tries again. */
  explicit NdjsonFileExporter(NdjsonFileOptions options);
  ~NdjsonFileExporter() override;
  NdjsonFileExporter(const NdjsonFileExporter&) = delete;
  NdjsonFileExporter& operator=(const NdjsonFileExporter&) = delete;

  std::string_view name() const override { return "ndjson"; }
  ExportStatus export_trace(const protocol::Trace& trace) override;
  void flush() override;   // fsync
  void reopen() override;  // close and reopen the path (after an outside rotation)

  NdjsonFileStats stats() const;
  bool is_open() const { return fd_ >= 0; }
  /** Why the file is not open ("PATH: reason"), or nullopt when it is: checked at startup. */
  std::optional<std::string> open_error() const;

 private:
  bool open_file();
  void close_file();
  void rotate();
  bool write_record();
  /** False when RLIMIT_FSIZE or the filesystem has no room for `bytes` more (nothing written). */
  bool has_room(std::size_t bytes) const;

  NdjsonFileOptions options_;
  int fd_ = -1;
  int last_errno_ = 0;  // of the last failed open, reserve or write
  std::uint64_t size_ = 0;  // file size as this exporter knows it (for rotation)
  std::string record_;      // reused across records
  std::atomic<std::uint64_t> bytes_written_{0};
  std::atomic<std::uint64_t> rotations_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::atomic<std::uint64_t> reopens_{0};
};

}  // namespace tracecol::exporters
