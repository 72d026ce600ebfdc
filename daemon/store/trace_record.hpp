#pragma once
// A rendered trace record (the body of GET /api/traces/{id}): immutable bytes shared by
// the store's JSON cache and every answer being written from it.
//
// Each record lives in an anonymous mapping of its own, on 4 KiB pages. The daemon's
// malloc backs its heap with 2 MiB pages (hugepage_malloc.hpp), which pays for ingest; but
// while the cache fills, a record carved from a growing heap made the GET that touched
// the next 2 MiB page zero all of it (clear_page was 12% of a cold-cache run): a single
// connection's p99 went from 0.26 ms to 3-6 ms. A mapping of its own faults 4 KiB at a
// time and goes back to the kernel whole when the record is evicted.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tracecol::store {

class TraceRecord {
 public:
  /** Where a record's bytes live. */
  enum class Home {
    own_pages,  // a mapping of its own: for records kept in the cache
    heap,       // for a record answered once and dropped (an open trace, a full cache):
                // the heap's recycled blocks cost no system call
  };
  /**
   * A copy of text. own_pages falls back to the heap when the kernel refuses a mapping or
   * max_mappings() records already hold one.
   */
  static std::shared_ptr<const TraceRecord> copy_of(std::string_view text, Home home = Home::own_pages);

  /**
   * Records mapped at once, at most. Each mapping may be a kernel VMA of its own, and a
   * process has vm.max_map_count of those (65,530 by default) for everything, malloc's
   * large blocks and thread stacks included: a cache of many small records must not use
   * them up. Default 16,384 (a 35 KB record each: 560 MiB of cache).
   */
  static std::size_t max_mappings();
  static void set_max_mappings(std::size_t n);  // before use; for tests
  /** Records holding a mapping now. */
  static std::size_t live_mappings();

  bool mapped() const { return mapped_ != 0; }

  ~TraceRecord();
  TraceRecord(const TraceRecord&) = delete;
  TraceRecord& operator=(const TraceRecord&) = delete;

  std::string_view view() const { return {data_, size_}; }
  const char* data() const { return data_; }
  std::size_t size() const { return size_; }
  /** Memory held: the mapping's whole pages, or the heap copy's capacity. */
  std::size_t footprint() const { return mapped_ != 0 ? mapped_ : heap_.capacity(); }

 private:
  TraceRecord() = default;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_ = 0;  // the mapping's length; 0: the bytes are in heap_
  std::string heap_;
};

}  // namespace tracecol::store
