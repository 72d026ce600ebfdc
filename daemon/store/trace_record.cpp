#include "daemon/store/trace_record.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace tracecol::store {

std::shared_ptr<const TraceRecord> TraceRecord::copy_of(std::string_view text) {
  std::shared_ptr<TraceRecord> r(new TraceRecord());
  r->size_ = text.size();
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t length = (text.size() + page - 1) / page * page;
  void* p = length == 0 ? MAP_FAILED : ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    // An empty record, or the kernel out of mappings (vm.max_map_count): the heap holds it.
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
  if (mapped_ != 0) ::munmap(const_cast<char*>(data_), mapped_);
}

}  // namespace tracecol::store
