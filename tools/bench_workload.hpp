// The operation sequences of one `tessel bench` run for one key kind. Every sequence is materialized as its own
// key_set in the order it is replayed, so the timed loop reads keys sequentially and every structure replays
// the very same operations.
//
// Thread safety: a value; read-only once built.
#pragma once

#include <cstddef>
#include <string>

#include "bench/support/key_generator.hpp"
#include "bench/support/key_set.hpp"
#include "tools/bench_config.hpp"

namespace tessel::tools {

/// Keys in each range scan of the range_scan phase: the "~100 keys" of the scan goal, which a byte prefix of
/// random keys cannot select.
inline constexpr std::size_t range_keys = 100;

struct bench_workload {
  bench::key_kind kind = bench::key_kind::random16;
  bench::key_set load;           ///< every present key, in random load order
  bench::key_set get;            ///< `ops` present keys, uniform with replacement
  bench::key_set get_missing;    ///< `ops` absent keys
  bench::key_set put_overwrite;  ///< `ops` present keys, uniform with replacement
  bench::key_set put_insert;     ///< the same absent keys as get_missing, in another random order
  bench::key_set erase;          ///< min(ops, keys) distinct present keys
  bench::key_set prefixes;       ///< `scan_ops` scan prefixes
  bench::key_set range_starts;   ///< `scan_ops` range-scan starts: present keys, in random order
  bench::key_set range_ends;     ///< each start's end: the present key range_keys places after it in key order
  std::string value;             ///< stored by load and put_insert
  std::string overwrite_value;   ///< stored by put_overwrite: same size, other bytes

  [[nodiscard]] std::size_t keys() const noexcept { return load.size(); }
  [[nodiscard]] double mean_key_bytes() const noexcept {
    return load.empty() ? 0 : static_cast<double>(load.total_bytes()) / static_cast<double>(load.size());
  }
};

/// Builds the sequences for the phases `config` runs. REQUIRES: config.ops and config.scan_ops resolved.
[[nodiscard]] bench_workload make_bench_workload(const bench_config& config, bench::key_kind kind);

}  // namespace tessel::tools
