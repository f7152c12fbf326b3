// tsc_clock: turns fenced time-stamp-counter readings (common/platform.hpp) into nanoseconds. The counter is
// calibrated once against std::chrono::steady_clock; on an invariant TSC (constant_tsc, nonstop_tsc) its rate
// does not follow the core's frequency, so one calibration holds for the whole run.
//
// Thread safety: a value after calibrate(); calibrate() itself spins the calling thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace tessel::bench {

class tsc_clock {
 public:
  /// Spins for about `duration` and compares both clocks. Also measures the timer's own cost.
  [[nodiscard]] static tsc_clock calibrate(std::chrono::milliseconds duration = std::chrono::milliseconds(80));

  [[nodiscard]] double ghz() const noexcept { return cycles_per_ns_; }
  [[nodiscard]] double to_ns(double cycles) const noexcept { return cycles / cycles_per_ns_; }
  /// Median cycles between fenced_cycles_begin() and fenced_cycles_end() with nothing between them. Part of
  /// every single-operation sample; reported, never subtracted.
  [[nodiscard]] std::uint64_t overhead_cycles() const noexcept { return overhead_cycles_; }
  [[nodiscard]] double overhead_ns() const noexcept { return to_ns(static_cast<double>(overhead_cycles_)); }

 private:
  tsc_clock(double cycles_per_ns, std::uint64_t overhead_cycles) noexcept
      : cycles_per_ns_(cycles_per_ns), overhead_cycles_(overhead_cycles) {}

  double cycles_per_ns_;
  std::uint64_t overhead_cycles_;
};

}  // namespace tessel::bench
