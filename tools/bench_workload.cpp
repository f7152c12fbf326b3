// bench_workload: see bench_workload.hpp.
#include "tools/bench_workload.hpp"

#include <algorithm>
#include <numeric>
#include <utility>
#include <vector>

#include "bench/support/access_order.hpp"
#include "bench/support/rng.hpp"

namespace tessel::tools {
namespace {

// Sub-streams of the seed for the access orders (bench/support uses 1..4 for the keys themselves).
constexpr std::uint64_t stream_get = 11;
constexpr std::uint64_t stream_put = 12;
constexpr std::uint64_t stream_insert = 13;
constexpr std::uint64_t stream_erase = 14;
constexpr std::uint64_t stream_ranges = 15;

/// `count` ranges of range_keys keys (fewer in a tiny set) of `present`, at random places in key order.
void pick_ranges(const bench::key_set& present, std::size_t count, std::uint64_t seed, bench_workload& w) {
  if (present.empty()) return;
  std::vector<std::uint32_t> order(present.size());
  std::iota(order.begin(), order.end(), 0U);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return present[a] < present[b]; });
  const std::size_t span = std::min(range_keys, present.size() - 1);
  bench::rng r = bench::rng::derived(seed, stream_ranges);
  std::vector<std::uint32_t> starts = bench::random_indices(count, present.size() - span, r);
  std::vector<std::uint32_t> ends(starts.size());
  for (std::size_t i = 0; i < starts.size(); ++i) {
    ends[i] = order[starts[i] + span];
    starts[i] = order[starts[i]];
  }
  w.range_starts = present.gather(starts);
  w.range_ends = present.gather(ends);
}

}  // namespace

bench_workload make_bench_workload(const bench_config& config, bench::key_kind kind) {
  const bool misses = config.runs(bench_phase::get_missing) || config.runs(bench_phase::put_insert);
  const std::size_t absent = misses ? config.ops : 0;
  const std::size_t prefixes = config.runs(bench_phase::prefix_scan) ? config.scan_ops : 0;
  bench::key_workload keys = bench::make_key_workload(kind, config.keys, absent, prefixes, config.seed);

  bench_workload w;
  w.kind = kind;
  if (config.runs(bench_phase::get)) {
    bench::rng r = bench::rng::derived(config.seed, stream_get);
    w.get = keys.present.gather(bench::random_indices(config.ops, config.keys, r));
  }
  if (config.runs(bench_phase::put_overwrite)) {
    bench::rng r = bench::rng::derived(config.seed, stream_put);
    w.put_overwrite = keys.present.gather(bench::random_indices(config.ops, config.keys, r));
  }
  if (config.runs(bench_phase::erase)) {
    bench::rng r = bench::rng::derived(config.seed, stream_erase);
    const std::size_t n = config.ops < config.keys ? config.ops : config.keys;
    w.erase = keys.present.gather(bench::random_distinct(n, config.keys, r));
  }
  if (config.runs(bench_phase::put_insert)) {
    bench::rng r = bench::rng::derived(config.seed, stream_insert);
    w.put_insert = keys.absent.gather(bench::random_distinct(absent, absent, r));
  }
  if (config.runs(bench_phase::range_scan)) pick_ranges(keys.present, config.scan_ops, config.seed, w);
  if (config.runs(bench_phase::get_missing)) w.get_missing = std::move(keys.absent);
  w.load = std::move(keys.present);
  w.prefixes = std::move(keys.scan_prefixes);
  w.value.assign(config.value_size, 'v');
  w.overwrite_value.assign(config.value_size, 'w');
  // Distinct first and last bytes, so touch() of a value cannot be folded into a constant.
  if (config.value_size > 1) {
    w.value.back() = 'V';
    w.overwrite_value.back() = 'W';
  }
  return w;
}

}  // namespace tessel::tools
