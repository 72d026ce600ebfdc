#pragma once
// Helpers shared by the export tests: hand-built traces and a temporary directory.

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/export/exporter.hpp"
#include "protocol/span.hpp"

namespace tracecol::exporters::test {

/** A complete trace with span_count spans: one root, the rest its children. */
inline std::shared_ptr<const protocol::Trace> make_trace(std::uint64_t id, std::size_t span_count = 2) {
  auto t = std::make_shared<protocol::Trace>();
  t->trace_id = protocol::TraceId{0xabcdef0000000000ULL, id};
  t->run_id = "run-" + std::to_string(id);
  t->complete = true;
  const std::int64_t base = 1'732'500'000'000'000'000LL;
  for (std::size_t i = 0; i < span_count; ++i) {
    protocol::Span s;
    s.trace_id = t->trace_id;
    s.span_id = i + 1;
    s.parent_id = i == 0 ? 0 : 1;
    s.run_id = t->run_id;
    s.name = i == 0 ? "agent.run" : "step." + std::to_string(i);
    s.kind = i == 0 ? protocol::SpanKind::agent : protocol::SpanKind::tool;
    s.started_at_ns = base + static_cast<std::int64_t>(i) * 1'000'000;
    s.ended_at_ns = s.started_at_ns + 5'000'000;
    s.fields = protocol::field_run_id | protocol::field_name | protocol::field_kind |
               protocol::field_started_at | protocol::field_ended_at |
               (i == 0 ? 0 : protocol::field_parent_id);
    t->spans.push_back(std::move(s));
  }
  return t;
}

/** mkdtemp directory, removed with everything in it on destruction. */
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tracecol-export-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/** Splits on '\n'; the text after the last newline (a partial line) becomes the last element. */
inline std::vector<std::string> split_lines(const std::string& text, bool* partial = nullptr) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(text.substr(start, nl - start));
  }
  if (partial != nullptr) *partial = start < text.size();
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

}  // namespace tracecol::exporters::test
