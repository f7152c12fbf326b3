// `tessel bench`: measures a tessel store against std::map and std::unordered_map on the same keys and the same
// operation sequence, and checks the results against the project's goals. Options, output and exit codes are
// in docs/tools.md; what each phase measures is in docs/benchmarks.md.
//
// Thread safety: runs on the calling thread (pinned with --pin-cpu).
#pragma once

#include "tools/bench_config.hpp"

namespace tessel::tools {

/// Runs a resolved configuration and prints its report to stdout. Returns the exit code: 0 ok, 2+ the errc
/// value of a failure (a wrong answer from a structure is errc::corruption).
[[nodiscard]] int run_bench(bench_config config);

}  // namespace tessel::tools
