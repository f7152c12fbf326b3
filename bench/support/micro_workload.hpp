// What the Google Benchmark binaries (bench/index_bench.cpp, bench/store_bench.cpp) replay: for one key kind
// and size, the load order and the access sequences their benchmarks cycle through, plus the sizes they run
// at. A benchmark iteration takes the next key of a sequence (random order, never one hot key); sequences are
// materialized in access order so fetching the key is a sequential read.
//
// Thread safety: a value; read-only once built. The fixture cache is for the benchmark thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/support/key_generator.hpp"
#include "bench/support/key_set.hpp"

namespace tessel::bench {

/// Sizes to run at: 1M and 10M keys, or 1000 when the environment has TESSEL_BENCH_SMOKE=1 (the ctest smoke
/// run, label "bench").
[[nodiscard]] std::vector<std::size_t> micro_sizes();
[[nodiscard]] bool smoke_mode() noexcept;

/// Seed for every micro-benchmark workload: runs are comparable across builds.
inline constexpr std::uint64_t micro_seed = 42;
/// Longest access sequence: enough distinct keys that nothing stays cached between visits, small enough to
/// build quickly at 10M keys.
inline constexpr std::size_t micro_probe_cap = std::size_t{1} << 20;
/// Keys in a range scan.
inline constexpr std::size_t micro_range_keys = 100;
inline constexpr std::size_t micro_value_size = 16;

struct micro_workload {
  key_kind kind = key_kind::random16;
  std::size_t size = 0;
  key_set load;      ///< every present key, random load order
  key_set probes;    ///< present keys in another random order (gets, overwrites)
  key_set misses;    ///< absent keys (get_missing)
  key_set inserts;   ///< absent keys inserted by put_insert: size / 10 of them, so the tree stays near `size`
  key_set erases;    ///< distinct present keys for erase, size / 10 of them, reinserted when used up
  key_set prefixes;  ///< prefix-scan prefixes
  std::string value = std::string(micro_value_size, 'v');
  std::string other_value = std::string(micro_value_size, 'w');
};

[[nodiscard]] micro_workload make_micro_workload(key_kind kind, std::size_t size);

/// Range-scan bounds: starts[i] <= key < ends[i] holds micro_range_keys keys (fewer in a tiny set).
struct range_bounds {
  key_set starts;
  key_set ends;
};

/// Picks `count` random ranges from `sorted` (every present key, ascending).
[[nodiscard]] range_bounds make_ranges(const key_set& sorted, std::size_t count);

/// Cycles through [0, n): the next index of a sequence a benchmark replays.
class cycle {
 public:
  explicit cycle(std::size_t n) noexcept : n_(n) {}
  [[nodiscard]] std::size_t next() noexcept {
    const std::size_t i = i_;
    i_ = i_ + 1 == n_ ? 0 : i_ + 1;
    return i;
  }

 private:
  std::size_t n_;
  std::size_t i_ = 0;
};

/// The fixture for (kind, size), built on first use and kept until another is asked for, so each tree is built
/// once per size whatever the repetitions, and two 10M-key trees never coexist. Benchmarks are registered
/// grouped by (kind, size) so each is built once. Fixture needs a constructor (key_kind, std::size_t) and
/// members kind and size.
template <class Fixture>
Fixture& cached_fixture(key_kind kind, std::size_t size) {
  static std::unique_ptr<Fixture> current;
  if (!current || current->kind != kind || current->size != size) {
    current.reset();  // free the old tree before building the next
    current = std::make_unique<Fixture>(kind, size);
  }
  return *current;
}

}  // namespace tessel::bench
