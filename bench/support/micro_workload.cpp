// Micro-benchmark workloads: see micro_workload.hpp.
#include "bench/support/micro_workload.hpp"

#include <cstdlib>
#include <string_view>
#include <utility>

#include "bench/support/access_order.hpp"
#include "bench/support/rng.hpp"

namespace tessel::bench {
namespace {

constexpr std::uint64_t stream_probes = 21;
constexpr std::uint64_t stream_erases = 22;
constexpr std::uint64_t stream_ranges = 23;

}  // namespace

bool smoke_mode() noexcept {
  const char* smoke = std::getenv("TESSEL_BENCH_SMOKE");
  return smoke != nullptr && std::string_view(smoke) == "1";
}

std::vector<std::size_t> micro_sizes() {
  if (smoke_mode()) return {1000};
  return {1'000'000, 10'000'000};
}

micro_workload make_micro_workload(key_kind kind, std::size_t size) {
  const std::size_t probes = size < micro_probe_cap ? size : micro_probe_cap;
  const std::size_t pool = size / 10 > 0 ? size / 10 : 1;
  key_workload keys = make_key_workload(kind, size, probes, probes, micro_seed);

  micro_workload w;
  w.kind = kind;
  w.size = size;
  rng order = rng::derived(micro_seed, stream_probes);
  w.probes = keys.present.gather(random_indices(probes, size, order));
  rng pick = rng::derived(micro_seed, stream_erases);
  w.erases = keys.present.gather(random_distinct(pool < size ? pool : size, size, pick));
  w.inserts = keys.absent.slice(0, pool < probes ? pool : probes);
  w.misses = std::move(keys.absent);
  w.load = std::move(keys.present);
  w.prefixes = std::move(keys.scan_prefixes);
  return w;
}

range_bounds make_ranges(const key_set& sorted, std::size_t count) {
  range_bounds r;
  if (sorted.empty()) return r;
  const std::size_t span = sorted.size() - 1 < micro_range_keys ? sorted.size() - 1 : micro_range_keys;
  rng pick = rng::derived(micro_seed, stream_ranges);
  std::vector<std::uint32_t> starts = random_indices(count, sorted.size() - span, pick);
  std::vector<std::uint32_t> ends = starts;
  for (std::uint32_t& e : ends) e += static_cast<std::uint32_t>(span);
  r.starts = sorted.gather(starts);
  r.ends = sorted.gather(ends);
  return r;
}

}  // namespace tessel::bench
