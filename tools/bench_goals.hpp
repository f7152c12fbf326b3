// Verdicts on one key kind's `tessel bench` results: the project's performance goals (PASS/MISS) and the
// cross-checks that catch a structure returning wrong answers.
//
// Thread safety: stateless.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/bench_results.hpp"

namespace tessel::tools {

/// The goals, as the project states them (docs/benchmarks.md §Goals). A goal that needs a phase or a peer
/// that did not run has no value and a note saying why. The targets are set for random 16-byte keys with
/// 16-byte values (`value_size`): on other workloads the values come without a verdict (`judged` false).
[[nodiscard]] std::vector<goal_result> evaluate_goals(const kind_result& r, std::size_t value_size);

/// One line per problem: a phase whose operations had wrong outcomes, or structures that disagree on what a
/// scan returned. Empty when all is well.
[[nodiscard]] std::vector<std::string> check_results(const kind_result& r);

/// The result of `phase` on `structure`, or null.
[[nodiscard]] const phase_result* find_phase(const kind_result& r, bench_phase phase, std::string_view structure);

}  // namespace tessel::tools
