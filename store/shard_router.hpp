// shard_router: which shard of a sharded store a key belongs to (docs/concurrency.md §Routing).
//
// A key's routing part -- the whole key, the text of its hash tag, or its first few path components -- is
// hashed with XXH3-64 (the checksum function, common/checksum.hpp: a fixed, documented function, so a key
// maps to the same shard in every process and build) and reduced to [0, shards) by the multiply-shift
// range reduction (h * shards) >> 64, which is uniform for any shard count and needs no division.
//
//   whole_key        the key itself.
//   hash_tag         the bytes between the first '{' and the next '}' when there is at least one; else the
//                    whole key ("user:{42}:cart" and "user:{42}:profile" share a shard; Redis Cluster's rule).
//   path_components  the first `components` components of a '/'-separated key: with 2, "/tenants/a/jobs/7"
//                    routes by "/tenants/a"; a key with fewer components routes by all of it.
//
// The shard count and the rule are chosen when a store is created and recorded with it: changing either
// moves keys between shards.
//
// Thread safety: immutable; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"

namespace tessel::detail {

enum class routing_kind : std::uint8_t { whole_key = 0, hash_tag = 1, path_components = 2 };

struct routing_rule {
  routing_kind kind = routing_kind::whole_key;
  std::uint32_t components = 0;  ///< path_components only: how many leading components route (>= 1)
  friend bool operator==(const routing_rule&, const routing_rule&) = default;
};

class shard_router {
 public:
  static constexpr std::uint32_t max_shards = 4096;

  /// Errors: invalid_argument (0 or more than max_shards shards; path_components with 0 components).
  [[nodiscard]] static result<shard_router> make(std::uint32_t shards, routing_rule rule) noexcept;

  [[nodiscard]] std::uint32_t shards() const noexcept { return shards_; }
  [[nodiscard]] const routing_rule& rule() const noexcept { return rule_; }
  /// The part of `key` that chooses its shard (a view into `key`).
  [[nodiscard]] key_view routing_part(key_view key) const noexcept;
  /// The shard of `key`, in [0, shards()).
  [[nodiscard]] std::uint32_t shard_of(key_view key) const noexcept;

 private:
  shard_router(std::uint32_t shards, routing_rule rule) noexcept : shards_(shards), rule_(rule) {}
  std::uint32_t shards_;
  routing_rule rule_;
};

/// "whole_key", "hash_tag" or "path_components:N", for messages and `tessel info`.
[[nodiscard]] std::string to_string(const routing_rule& rule);

}  // namespace tessel::detail
