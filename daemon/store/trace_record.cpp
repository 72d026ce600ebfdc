#include "daemon/store/trace_record.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace tracecol::store {

namespace {

std::atomic<std::size_t> mapping_limit{16384};
std::atomic<std::size_t> mappings{0};

/** Takes one of the mapping slots; false when all are in use. */
bool take_mapping_slot() {
  std::size_t now = mappings.load(std::memory_order_relaxed);
  do {
    if (now >= mapping_limit.load(std::memory_order_relaxed)) return false;
  } while (!mappings.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return true;
}

}  // namespace

std::size_t TraceRecord::max_mappings() { return mapping_limit.load(); }
void TraceRecord::set_max_mappings(std::size_t n) { mapping_limit.store(n); }
std::size_t TraceRecord::live_mappings() { return mappings.load(); }

std::shared_ptr<const TraceRecord> TraceRecord::copy_of(std::string_view text, Home home) {
  std::shared_ptr<TraceRecord> r(new TraceRecord());
  r->size_ = text.size();
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t length = (text.size() + page - 1) / page * page;
  void* p = MAP_FAILED;
  if (home == Home::own_pages && length != 0 && take_mapping_slot()) {
    p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) mappings.fetch_sub(1, std::memory_order_relaxed);
  }
  if (p == MAP_FAILED) {
    // Asked for, empty, every slot in use, or the kernel refused: the heap holds it.
    r->heap_.assign(text);
    r->data_ = r->heap_.data();
    return r;
  }
  // Not THP: a record is never worth a 2 MiB page, and faulting one in is the stall this avoids.
  ::madvise(p, length, MADV_NOHUGEPAGE);
  std::memcpy(p, text.data(), text.size());
  ::mprotect(p, length, PROT_READ);  // immutable, as every reader assumes
  r->data_ = static_cast<const char*>(p);
  r->mapped_ = length;
  return r;
}

TraceRecord::~TraceRecord() {
  if (mapped_ == 0) return;
  ::munmap(const_cast<char*>(data_), mapped_);
  mappings.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace tracecol::store
