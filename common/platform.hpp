// Platform facts and compiler helpers shared by every module: cache-line size, branch hints, prefetch,
// and the fenced cycle counter used to time single operations.
//
// Thread safety: stateless.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#if !defined(__x86_64__)
#error "tessel needs porting: only x86-64 is supported"
#endif

#include <x86intrin.h>

static_assert(std::endian::native == std::endian::little, "tessel's formats assume little endian");

#define TESSEL_LIKELY(x) __builtin_expect(!!(x), 1)
#define TESSEL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TESSEL_ALWAYS_INLINE inline __attribute__((always_inline))
#define TESSEL_NOINLINE __attribute__((noinline))

namespace tessel {

/// Our own constant, not std::hardware_destructive_interference_size: that one varies with -mtune, and
/// GCC 12 warns when a header uses it.
inline constexpr std::size_t cache_line_size = 64;

/// Views a region block as the struct stored there. Blocks are 8-byte aligned by construction (the block
/// allocator's granule), which -Wcast-align cannot know; this is the one place that says so.
template <class T>
TESSEL_ALWAYS_INLINE T* block_cast(std::byte* p) noexcept {
  static_assert(alignof(T) <= 8, "region blocks are only 8-byte aligned");
  return static_cast<T*>(static_cast<void*>(p));
}

template <class T>
TESSEL_ALWAYS_INLINE const T* block_cast(const std::byte* p) noexcept {
  static_assert(alignof(T) <= 8, "region blocks are only 8-byte aligned");
  return static_cast<const T*>(static_cast<const void*>(p));
}

/// Hints that the line at `p` will be read soon.
TESSEL_ALWAYS_INLINE void prefetch(const void* p) noexcept { __builtin_prefetch(p, 0, 3); }

/// Hints that the line holding `p` will be written soon: PREFETCHW where the target has it (the line arrives
/// owned), else a read prefetch, which on one core also brings it exclusive.
TESSEL_ALWAYS_INLINE void prefetch_for_write(const void* p) noexcept { __builtin_prefetch(p, 1, 3); }

/// Hints that the `size` bytes at `p` (size > 0) will be read soon: every line they touch, the last one too
/// when a block that is not line-aligned straddles a boundary (half of all 48-byte blocks do).
TESSEL_ALWAYS_INLINE void prefetch_span(const void* p, std::size_t size) noexcept {
  constexpr std::uintptr_t line = cache_line_size;
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(p) & ~(line - 1);
  const std::uintptr_t last = reinterpret_cast<std::uintptr_t>(p) + size - 1;
  for (std::uintptr_t at = first; at <= last; at += line) __builtin_prefetch(reinterpret_cast<const void*>(at), 0, 3);
}

/// Tells the core this thread is spinning on a value another thread will change (PAUSE): saves power and
/// gives a sibling hyper-thread the pipeline.
TESSEL_ALWAYS_INLINE void cpu_relax() noexcept { _mm_pause(); }

/// Reads the time-stamp counter with fences on both sides, so the measured operation can neither start
/// before the first read nor finish after the second (Intel's "How to Benchmark Code Execution Times").
TESSEL_ALWAYS_INLINE std::uint64_t fenced_cycles_begin() noexcept {
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

TESSEL_ALWAYS_INLINE std::uint64_t fenced_cycles_end() noexcept {
  unsigned aux = 0;
  const std::uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}

}  // namespace tessel
