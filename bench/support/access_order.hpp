// Random access orders over a key set: the index sequences a workload replays. Benchmarks read keys in random
// order, never one hot key (docs/benchmarks.md).
//
// Thread safety: stateless; each call uses the generator it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "bench/support/rng.hpp"

namespace tessel::bench {

/// `count` indices drawn uniformly from [0, bound), with replacement. REQUIRES: bound > 0 and bound <= 2^32.
[[nodiscard]] inline std::vector<std::uint32_t> random_indices(std::size_t count, std::size_t bound, rng& r) {
  std::vector<std::uint32_t> out(count);
  for (std::uint32_t& i : out) i = static_cast<std::uint32_t>(r.below(bound));
  return out;
}

/// The first `count` entries of a random permutation of [0, bound): distinct indices. REQUIRES: count <= bound.
[[nodiscard]] inline std::vector<std::uint32_t> random_distinct(std::size_t count, std::size_t bound, rng& r) {
  std::vector<std::uint32_t> out(bound);
  std::iota(out.begin(), out.end(), std::uint32_t{0});
  // A partial Fisher-Yates: only the first `count` slots need to be random.
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t j = i + r.below(bound - i);
    std::swap(out[i], out[j]);
  }
  out.resize(count);
  return out;
}

}  // namespace tessel::bench
