// Runs every phase of a `tessel bench` run on one structure: builds it, loads it, replays the workload's
// sequences with each single operation timed by the fenced cycle counter, measures its memory, and frees it
// before returning (so structures never coexist, which keeps 10M-key runs within memory).
//
// Thread safety: runs on the calling thread; one run at a time per process (heap measurements are global).
#pragma once

#include <vector>

#include "tessel/error.hpp"

#include "bench/support/tsc_clock.hpp"
#include "tools/bench_config.hpp"
#include "tools/bench_results.hpp"
#include "tools/bench_workload.hpp"

namespace tessel::tools {

struct subject_run {
  std::vector<phase_result> phases;
  memory_result memory;
};

/// Errors: whatever the store reports for a failed open, put or erase (its message names the phase).
[[nodiscard]] result<subject_run> run_tessel(const bench_workload& w, const bench_config& config,
                                             const bench::tsc_clock& clock);
[[nodiscard]] result<subject_run> run_std_map(const bench_workload& w, const bench_config& config,
                                              const bench::tsc_clock& clock);
/// Has no ordered scans: those phases come back with available = false.
[[nodiscard]] result<subject_run> run_std_unordered_map(const bench_workload& w, const bench_config& config,
                                                        const bench::tsc_clock& clock);

}  // namespace tessel::tools
