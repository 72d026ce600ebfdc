#pragma once
// A growable byte buffer whose resize() leaves new bytes uninitialized. Encoders that
// reserve a worst case and write through a cursor (otlp_proto_encoder) would otherwise
// zero that whole reserve first: std::string::resize filled ~2 KB per span with zeros
// only to overwrite them, 14% of the protobuf export's sender thread.

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
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

// The cursor encoders (otlp_encoder, otlp_proto_encoder) size a record's worst case
// once, write through a char* and shrink: an append per piece (a capacity check and a
// call each) cost them more than copying the bytes.

/** n more bytes at the end of out (uninitialized in a ByteBuffer, zeros in a string); where they start. */
template <typename Out>
char* extend(Out& out, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + n);
  return out.data() + at;
}

/** Copies text to d; returns the new end. An empty view may hold a null pointer, which memcpy must not see. */
inline char* write_bytes(char* d, std::string_view text) {
  if (text.empty()) return d;
  std::memcpy(d, text.data(), text.size());
  return d + text.size();
}

/** Copies a string literal (without its terminating NUL) to d: a fixed-size copy the compiler inlines. */
template <std::size_t N>
char* write_literal(char* d, const char (&text)[N]) {
  std::memcpy(d, text, N - 1);
  return d + (N - 1);
}

}  // namespace tracecol::protocol
