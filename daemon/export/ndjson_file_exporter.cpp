#include "daemon/export/ndjson_file_exporter.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

#include "daemon/log.hpp"
#include "protocol/encoder.hpp"
#include "protocol/trace_tree.hpp"

namespace tracecol::exporters {
namespace {
// A full disk fails every record: one line a second says so, with the count suppressed.
daemon::RateLimiter file_error_log(1);
}  // namespace

NdjsonFileExporter::NdjsonFileExporter(NdjsonFileOptions options) : options_(std::move(options)) {
  open_file();
}

NdjsonFileExporter::~NdjsonFileExporter() { close_file(); }

bool NdjsonFileExporter::open_file() {
  fd_ = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, options_.file_mode);
  if (fd_ < 0) {
    last_errno_ = errno;
    ++write_errors_;
    return false;
  }
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
  return true;
}

void NdjsonFileExporter::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void NdjsonFileExporter::rotate() {
  const std::string& base = options_.path;
  close_file();
  if (options_.max_backups <= 0) {
    ::unlink(base.c_str());
  } else {
    // rename() replaces its target, so the oldest backup simply disappears.
    for (int n = options_.max_backups; n >= 2; --n) {
      const std::string from = base + "." + std::to_string(n - 1);
      const std::string to = base + "." + std::to_string(n);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) ++write_errors_;
    }
    if (::rename(base.c_str(), (base + ".1").c_str()) != 0 && errno != ENOENT) ++write_errors_;
  }
  ++rotations_;
  open_file();
}

bool NdjsonFileExporter::has_room(std::size_t bytes) const {
  // RLIMIT_FSIZE would let the write through up to the limit and cut it there; it can be
  // changed from outside at any time (prlimit), so it is read per record (one syscall).
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      size_ + bytes > static_cast<std::uint64_t>(limit.rlim_cur))
    return false;
  // Reserve the blocks first (the file's size is unchanged): a full disk or quota fails
  // here, before any byte lands, instead of in the middle of a line. Filesystems and
  // files without fallocate (pipes, /dev/stdout, some network filesystems) just write.
  const int r = ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(size_), static_cast<off_t>(bytes));
  return r == 0 || (errno != ENOSPC && errno != EDQUOT && errno != EFBIG);
}

bool NdjsonFileExporter::write_record() {
  auto backoff = options_.retry_backoff;
  const int attempts = options_.write_attempts < 1 ? 1 : options_.write_attempts;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0 && backoff.count() > 0) {
      std::this_thread::sleep_for(backoff);  // the exporter's own worker thread only
      backoff *= 2;
    }
    if (fd_ < 0 && !open_file()) continue;
    if (options_.max_bytes > 0 && size_ > 0 && size_ + record_.size() > options_.max_bytes) {
      rotate();
      if (fd_ < 0) continue;
    }
    if (!has_room(record_.size())) {
      last_errno_ = errno;
      ++write_errors_;
      continue;
    }
    ssize_t n;
    do {
      n = ::write(fd_, record_.data(), record_.size());
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(record_.size())) {
      size_ += record_.size();
      bytes_written_ += record_.size();
      return true;
    }
    last_errno_ = n < 0 ? errno : ENOSPC;
    ++write_errors_;
    // A regular file only writes short when it hits a limit has_room() could not see
    // coming (another writer took the space): cut the partial line off so readers are
    // left with whole records, then try again whole.
    // With O_APPEND the offset after a write is the end of what this write put there,
    // even if another writer appended meanwhile; fstat's size would not be.
    if (n > 0) {
      struct stat st {};
      const off_t end = ::lseek(fd_, 0, SEEK_CUR);
      if (end >= n && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
        const off_t before = end - static_cast<off_t>(n);
        if (::ftruncate(fd_, before) == 0) size_ = static_cast<std::uint64_t>(before);
      }
    }
  }
  std::uint64_t suppressed = 0;
  if (file_error_log.allow(&suppressed))
    daemon::log(daemon::LogLevel::warn,
                "export-file %s: %s; a trace record was dropped after %d attempt(s), counted as failed (%llu similar "
                "messages suppressed)",
                options_.path.c_str(), std::strerror(last_errno_), attempts, static_cast<unsigned long long>(suppressed));
  return false;
}

std::optional<std::string> NdjsonFileExporter::open_error() const {
  if (fd_ >= 0) return std::nullopt;
  return options_.path + ": " + std::strerror(last_errno_);
}

ExportStatus NdjsonFileExporter::export_trace(const protocol::Trace& trace) {
  record_.clear();
  if (options_.mode == FileMode::traces) {
    protocol::append_trace_json(record_, trace);
    record_ += '\n';
  } else {
    for (const auto& row : protocol::tree_order(trace)) {
      const auto& span = trace.spans[row.index];
      if (row.orphan && !span.orphan) {
        // The trace is shared and immutable: mark a copy so the line says "orphan".
        protocol::Span marked = span;
        marked.orphan = true;
        protocol::append_span_json(record_, marked, row.depth);
      } else {
        protocol::append_span_json(record_, span, row.depth);
      }
      record_ += '\n';
    }
    if (record_.empty()) return ExportStatus::ok;
  }
  return write_record() ? ExportStatus::ok : ExportStatus::failed;
}

void NdjsonFileExporter::flush() {
  if (fd_ >= 0) ::fsync(fd_);
}

void NdjsonFileExporter::reopen() {
  close_file();
  ++reopens_;
  if (!open_file())
    daemon::log(daemon::LogLevel::warn,
                "export-file %s: reopening (SIGHUP) failed: %s; each record tries again and counts as failed until it "
                "opens", options_.path.c_str(), std::strerror(last_errno_));
}

NdjsonFileStats NdjsonFileExporter::stats() const {
  NdjsonFileStats s;
  s.bytes_written = bytes_written_.load();
  s.rotations = rotations_.load();
  s.write_errors = write_errors_.load();
  s.reopens = reopens_.load();
  return s;
}

}  // namespace tracecol::exporters
