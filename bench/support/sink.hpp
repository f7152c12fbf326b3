// Compiler barriers for benchmarks: make a result count as used, and keep memory operations on their side of a
// timestamp. Same technique as Google Benchmark's DoNotOptimize/ClobberMemory, without linking it into the CLI.
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessel::bench {

/// Forces `value` to be computed at this point; the compiler must assume it is read and memory is touched.
template <class T>
inline __attribute__((always_inline)) void do_not_optimize(const T& value) noexcept {
  asm volatile("" : : "r,m"(value) : "memory");
}

/// Stops the compiler from moving loads and stores across this point.
inline __attribute__((always_inline)) void clobber_memory() noexcept { asm volatile("" : : : "memory"); }

/// Reads what a caller would read from a value or key: its size and its first and last byte. Used by every
/// structure alike, so a structure that keeps bytes out of line (std::string's heap buffer) pays for it.
inline __attribute__((always_inline)) std::uint64_t touch(const std::byte* data, std::size_t size) noexcept {
  if (size == 0) return 0;
  return size ^ static_cast<std::uint64_t>(data[0]) ^ (static_cast<std::uint64_t>(data[size - 1]) << 8);
}

inline __attribute__((always_inline)) std::uint64_t touch(const char* data, std::size_t size) noexcept {
  return touch(reinterpret_cast<const std::byte*>(data), size);
}

}  // namespace tessel::bench
