// Seeded pseudo-random numbers for workloads: xoshiro256** seeded through splitmix64. Our own generator, not
// <random>'s engines and distributions, so one seed gives the same keys and operation order with every standard
// library, and drawing an index costs a multiply instead of a division.
//
// Thread safety: a value; one thread per generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace tessel::bench {

class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept {
    // splitmix64 spreads any seed, 0 included, over the whole state; xoshiro must not start all-zero.
    std::uint64_t x = seed;
    for (std::uint64_t& s : state_) s = splitmix64(x);
  }

  [[nodiscard]] std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, bound). REQUIRES: bound > 0. Lemire's multiply-shift; its bias is below bound / 2^64.
  [[nodiscard]] std::uint64_t below(std::uint64_t bound) noexcept {
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * bound) >> 64);
  }

  /// A generator for a sub-stream (one per workload part), so adding draws to one part leaves the others alone.
  [[nodiscard]] static rng derived(std::uint64_t seed, std::uint64_t stream) noexcept {
    std::uint64_t x = seed ^ (stream * 0x9E3779B97F4A7C15ULL);
    return rng(splitmix64(x));
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4];
};

/// Fisher-Yates shuffle.
template <class T>
void shuffle(std::span<T> items, rng& r) noexcept {
  for (std::size_t i = items.size(); i > 1; --i) {
    const std::size_t j = r.below(i);
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace tessel::bench
