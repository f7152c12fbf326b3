// tsc_clock: see tsc_clock.hpp.
#include "bench/support/tsc_clock.hpp"

#include <algorithm>
#include <vector>

#include "bench/support/sink.hpp"
#include "common/platform.hpp"

namespace tessel::bench {

tsc_clock tsc_clock::calibrate(std::chrono::milliseconds duration) {
  using clock = std::chrono::steady_clock;
  const clock::time_point wall_start = clock::now();
  const std::uint64_t tsc_start = fenced_cycles_begin();
  clock::time_point wall_end = wall_start;
  while (wall_end - wall_start < duration) wall_end = clock::now();
  const std::uint64_t tsc_end = fenced_cycles_end();
  const auto ns = std::chrono::duration<double, std::nano>(wall_end - wall_start).count();
  const double cycles_per_ns = static_cast<double>(tsc_end - tsc_start) / ns;

  // The median, not the minimum: the samples it is compared with are single ones too.
  constexpr std::size_t samples = 20001;
  std::vector<std::uint64_t> cycles(samples);
  for (std::uint64_t& c : cycles) {
    const std::uint64_t begin = fenced_cycles_begin();
    clobber_memory();
    c = fenced_cycles_end() - begin;
  }
  std::nth_element(cycles.begin(), cycles.begin() + samples / 2, cycles.end());
  return tsc_clock(cycles_per_ns, cycles[samples / 2]);
}

}  // namespace tessel::bench
