// Key sets for benchmarks: random 16-byte keys and hierarchical path keys, with a disjoint pool of absent keys
// (for misses and inserts) and prefixes for prefix scans. Deterministic for a given seed.
//
// Path keys model a state store behind an orchestrator:
//   /workloads/app-000123/instances/i7/metrics/cpu
// Apps are numbered densely; each app has 1..24 instances (uniform, mean 12.5) and each instance the same 8
// state keys (config, health, lease, metrics/cpu, metrics/mem, offset, status, watermark), so an app holds 100
// keys on average and its prefix "/workloads/app-000123/" is the ~100-key prefix scan. Absent keys are new
// instances of existing apps: they share long prefixes with present keys, so a miss walks deep into the tree
// instead of failing at the root.
//
// Random keys are 16 bytes over the full 0..255 byte range; their scan prefix is 2 bytes (n / 65536 keys each).
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "bench/support/key_set.hpp"

namespace tessel::bench {

enum class key_kind : std::uint8_t { random16, path };

[[nodiscard]] std::string_view to_string(key_kind kind) noexcept;
[[nodiscard]] std::optional<key_kind> parse_key_kind(std::string_view name) noexcept;

inline constexpr std::size_t path_states_per_instance = 8;
inline constexpr std::size_t path_max_instances_per_app = 24;
inline constexpr std::size_t random_key_size = 16;
inline constexpr std::size_t random_prefix_size = 2;

struct key_workload {
  key_kind kind = key_kind::random16;
  key_set present;        ///< keys to load, in random load order; distinct
  key_set absent;         ///< keys never loaded, distinct from each other and from `present`; random order
  key_set scan_prefixes;  ///< prefixes for prefix scans, in random order (a prefix may repeat)
};

/// Builds `present` + `absent` distinct keys and `prefixes` scan prefixes. REQUIRES: present >= 1 and
/// present + absent < 2^32. Random keys are distinct with overwhelming probability (2^-128 per pair), not
/// by construction.
[[nodiscard]] key_workload make_key_workload(key_kind kind, std::size_t present, std::size_t absent,
                                             std::size_t prefixes, std::uint64_t seed);

}  // namespace tessel::bench
