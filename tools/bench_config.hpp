// What `tessel bench` was asked to do: the parsed and resolved command-line options, and the phase names.
//
// Thread safety: plain values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "bench/support/key_generator.hpp"

namespace tessel::tools {

/// One timed part of a run, in the order a run performs them. Gets and scans run before the writes so they
/// see exactly the loaded key set; erase runs last.
enum class bench_phase : std::uint8_t {
  load,           ///< insert every present key, in random order, into an empty structure
  compact,        ///< --compact: tessel's store::compact() once, so the phases after it read a compacted tree
  get,            ///< look up present keys
  get_missing,    ///< look up absent keys (not_found)
  prefix_scan,    ///< visit every key under a prefix (~100 path keys; 2-byte prefix for random keys)
  range_scan,     ///< visit the 100 keys of [start, end), start and end present keys 100 apart in key order
  full_scan,      ///< visit every key in order; timed per pass, reported per key
  put_overwrite,  ///< replace the value of present keys
  put_insert,     ///< insert absent keys
  erase,          ///< remove distinct present keys
};
inline constexpr std::size_t bench_phase_count = 10;

[[nodiscard]] std::string_view to_string(bench_phase phase) noexcept;

/// The names --phases accepts; "put" selects put_overwrite and put_insert.
inline constexpr std::array<std::string_view, 7> bench_phase_option_names = {
    "get", "get_missing", "put", "erase", "prefix_scan", "range_scan", "full_scan"};

struct bench_config {
  std::size_t keys = 1'000'000;
  std::size_t ops = 0;       ///< timed operations per point phase; resolved to min(keys, 1,000,000) when 0
  std::size_t scan_ops = 0;  ///< timed prefix scans, and range scans; resolved to min(ops, 100,000) when 0
  std::size_t full_scan_passes = 3;
  std::vector<bench::key_kind> key_kinds;
  std::size_t value_size = 16;
  std::uint64_t seed = 42;
  bool json = false;
  bool peers = true;
  bool huge_pages = true;  ///< options::huge_pages for the store
  std::optional<unsigned> pin_cpu;
  std::array<bool, bench_phase_count> phases{};  ///< indexed by bench_phase; load is always on, compact with --compact

  [[nodiscard]] bool runs(bench_phase phase) const noexcept { return phases[static_cast<std::size_t>(phase)]; }
};

}  // namespace tessel::tools
