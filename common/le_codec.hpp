// Little-endian fixed-width fields in byte buffers, for on-disk formats. x86-64 is little endian
// (platform.hpp asserts it), so these are memcpy: they exist to make unaligned, typed field access explicit
// and free of aliasing questions.
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace tessel {

template <class T>
  requires std::is_integral_v<T>
[[nodiscard]] inline T load_le(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
  requires std::is_integral_v<T>
inline void store_le(std::byte* p, T v) noexcept { std::memcpy(p, &v, sizeof(T)); }

/// Appends `v` to `out`, little endian: for encodings built as strings. Throws std::bad_alloc.
template <class T>
  requires std::is_integral_v<T>
inline void append_le(std::string& out, T v) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &v, sizeof(T));
  out.append(bytes, sizeof(T));
}

}  // namespace tessel
