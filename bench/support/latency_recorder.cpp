// latency_recorder: see latency_recorder.hpp.
#include "bench/support/latency_recorder.hpp"

#include <algorithm>
#include <cmath>

namespace tessel::bench {
namespace {

// Nearest-rank percentile of sorted samples: the smallest sample with at least `p` of them at or below it.
std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double p) {
  const double rank = std::ceil(p * static_cast<double>(sorted.size()));
  const auto index = rank < 1 ? std::size_t{0} : static_cast<std::size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

latency_summary latency_recorder::summarize(const tsc_clock& clock) {
  latency_summary s;
  s.count = cycles_.size();
  if (cycles_.empty()) return s;
  std::sort(cycles_.begin(), cycles_.end());
  double total = 0;
  for (const std::uint64_t c : cycles_) total += static_cast<double>(c);
  s.mean_ns = clock.to_ns(total / static_cast<double>(cycles_.size()));
  s.p50_ns = clock.to_ns(static_cast<double>(percentile(cycles_, 0.50)));
  s.p99_ns = clock.to_ns(static_cast<double>(percentile(cycles_, 0.99)));
  s.p999_ns = clock.to_ns(static_cast<double>(percentile(cycles_, 0.999)));
  s.p9999_ns = clock.to_ns(static_cast<double>(percentile(cycles_, 0.9999)));
  s.max_ns = clock.to_ns(static_cast<double>(cycles_.back()));
  return s;
}

}  // namespace tessel::bench
