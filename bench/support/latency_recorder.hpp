// latency_recorder: keeps every single-operation sample (in cycles) of a phase and summarizes them into mean
// and exact percentiles. A vector, not a histogram: a phase holds at most a few million samples (8 bytes each),
// and sorting them once gives exact p99.9 and max.
//
// Thread safety: one thread per recorder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bench/support/sink.hpp"
#include "bench/support/tsc_clock.hpp"
#include "common/platform.hpp"

namespace tessel::bench {

/// What a phase's samples come to, in nanoseconds.
struct latency_summary {
  std::size_t count = 0;
  double mean_ns = 0;
  double p50_ns = 0;
  double p99_ns = 0;
  double p999_ns = 0;
  double p9999_ns = 0;
  double max_ns = 0;
};

class latency_recorder {
 public:
  /// Reserves room for `samples`, so recording never allocates inside a timed loop.
  void reserve(std::size_t samples) { cycles_.reserve(samples); }
  void clear() noexcept { cycles_.clear(); }
  void add(std::uint64_t cycles) noexcept { cycles_.push_back(cycles); }
  [[nodiscard]] std::size_t size() const noexcept { return cycles_.size(); }

  /// Sorts the samples (so call it once, after the phase) and converts them with `clock`.
  [[nodiscard]] latency_summary summarize(const tsc_clock& clock);

 private:
  std::vector<std::uint64_t> cycles_;
};

/// Times one call of `op` between the fenced counter reads. `op` must sink its own result (do_not_optimize)
/// so the work cannot move past the closing read. Returns cycles, timer overhead included.
template <class Op>
[[nodiscard]] inline __attribute__((always_inline)) std::uint64_t time_one(Op&& op) noexcept {
  const std::uint64_t begin = fenced_cycles_begin();
  clobber_memory();
  op();
  clobber_memory();
  return fenced_cycles_end() - begin;
}

}  // namespace tessel::bench
