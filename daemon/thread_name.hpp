#pragma once
// Names the calling thread, so `top -H`, `ps -L`, perf and gdb tell the io threads, the
// fan-out workers and the HTTP senders apart (all of them are "tracecol" otherwise).

#include <pthread.h>

#include <algorithm>
#include <string_view>

namespace tracecol {

/** The kernel keeps 15 bytes of a thread's name; longer names are cut there. */
inline void name_this_thread(std::string_view name) {
  char buf[16] = {};
  std::copy_n(name.data(), std::min<std::size_t>(name.size(), sizeof buf - 1), buf);
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace tracecol
