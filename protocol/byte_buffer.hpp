#pragma once
// A growable byte buffer whose resize() leaves new bytes uninitialized. Encoders that
// reserve a worst case and write through a cursor (otlp_proto_encoder) would otherwise
// zero that whole reserve first: std::string::resize filled ~2 KB per span with zeros
// only to overwrite them, 14% of the protobuf export's sender thread.

#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace tracecol::protocol {

/** std::allocator, but value-initialization (vector::resize(n)) leaves trivial types as they are. */
template <typename T>
struct UninitializedAllocator : std::allocator<T> {
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <typename U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}

  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;  // default-initialized: nothing is written for char
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using ByteBuffer = std::vector<char, UninitializedAllocator<char>>;

}  // namespace tracecol::protocol
