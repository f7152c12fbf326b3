// The numbers one `tessel bench` run produces: per phase and structure, memory per structure, the project's
// goals, and the context that makes them comparable. Filled by bench_runner, printed by bench_report.
//
// Thread safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/support/key_generator.hpp"
#include "bench/support/latency_recorder.hpp"
#include "tools/bench_config.hpp"

namespace tessel::tools {

inline constexpr std::string_view tessel_name = "tessel";
inline constexpr std::string_view std_map_name = "std::map";
inline constexpr std::string_view std_unordered_map_name = "std::unordered_map";

struct phase_result {
  bench_phase phase = bench_phase::load;
  std::string structure;
  /// False when the structure has no such operation (std::unordered_map has no ordered scan).
  bool available = true;
  std::size_t ops = 0;    ///< timed operations: point ops, scans, or full-scan passes
  std::size_t items = 0;  ///< keys the operations touched: ops for point phases, keys returned for scans
  /// Per operation; for full_scan per key (each pass's time / keys), with p99 and p99.9 left unset (NaN).
  bench::latency_summary latency;
  double wall_ns = 0;          ///< whole phase, timer and loop included
  std::size_t mismatches = 0;  ///< operations with a wrong outcome (a present key not found, ...)

  /// Operations (keys, for full_scan) per second of wall time.
  [[nodiscard]] double rate_per_s() const noexcept {
    const std::size_t n = phase == bench_phase::full_scan ? items : ops;
    return wall_ns > 0 ? static_cast<double>(n) * 1e9 / wall_ns : 0;
  }
  [[nodiscard]] double items_per_op() const noexcept {
    return ops == 0 ? 0 : static_cast<double>(items) / static_cast<double>(ops);
  }
};

struct memory_result {
  std::string structure;
  std::string measured_by;  ///< "region" (tessel's own accounting) or "mallinfo2" (heap growth over the load)
  std::size_t bytes = 0;    ///< tessel: live_bytes; peers: heap growth
  std::optional<std::size_t> leaf_bytes;
  std::optional<std::size_t> free_bytes;
  std::optional<std::size_t> committed_bytes;
  std::optional<std::size_t> huge_page_bytes;  ///< AnonHugePages growth over the load (THP actually granted)
};

struct goal_result {
  std::string name;         ///< stable id for JSON: "get_p50_vs_unordered_map"
  std::string description;  ///< human wording
  std::optional<double> value;
  double target = 0;
  bool at_most = true;  ///< pass when value <= target; else when value >= target
  std::string note;     ///< why there is no value, or no verdict
  bool judged = true;   ///< false: the value is shown without a verdict (a workload the target is not set for)
  [[nodiscard]] std::optional<bool> pass() const noexcept {
    if (!value || !judged) return std::nullopt;
    return at_most ? *value <= target : *value >= target;
  }
};

struct kind_result {
  bench::key_kind kind = bench::key_kind::random16;
  std::size_t keys = 0;
  std::size_t absent = 0;
  double mean_key_bytes = 0;
  std::vector<phase_result> phases;
  std::vector<memory_result> memory;
  std::vector<goal_result> goals;
  std::vector<std::string> problems;  ///< failed correctness checks, one line each
};

struct bench_context {
  std::string cpu_model;
  bool invariant_tsc = false;
  unsigned online_cpus = 0;
  std::optional<unsigned> pinned_cpu;
  std::string load_average;
  std::string build_type;
  bool optimized_build = false;  ///< NDEBUG and no sanitizer: the only build whose numbers count
  std::string compiler;
  double tsc_ghz = 0;
  std::uint64_t timer_overhead_cycles = 0;
  double timer_overhead_ns = 0;
  std::string transparent_huge_pages;  ///< the kernel's THP mode: always, madvise or never
  bool huge_pages_requested = true;
};

}  // namespace tessel::tools
