// The placement plan: which core each shard's worker runs on and which NUMA node holds its memory.
//
// Policy: shards are spread over the NUMA nodes in proportion to the nodes' cores (largest remainder), in
// contiguous runs -- shards 0..k-1 on node 0, the next run on node 1 -- so neighbouring shard numbers share a
// node; within a node they take its cores in order, wrapping when a node has more shards than cores. Each
// shard's memory is bound to its core's node. With as many shards as cores (the default) every core runs
// one shard and every node holds the shards of its own cores.
//
// Thread safety: values and a pure function.
#pragma once

#include <cstddef>
#include <vector>

#include "tessel/error.hpp"

#include "numa/topology.hpp"

namespace tessel::numa {

struct shard_placement {
  unsigned shard = 0;
  unsigned core = 0;                    ///< core index (topology::cores())
  unsigned node = 0;                    ///< NUMA node index holding the shard's memory
  unsigned node_os_index = 0;           ///< the same node as the OS numbers it (for mbind)
  std::vector<unsigned> pu_os_indexes;  ///< the hardware threads its worker may run on
};

struct placement_plan {
  std::vector<shard_placement> shards;
  /// Shards per NUMA node index.
  [[nodiscard]] std::vector<std::size_t> shards_per_node(std::size_t nodes) const;
};

/// Places `shard_count` shards (0: one per core) on `topo`. Errors: invalid_argument (a topology without
/// cores), no_memory.
[[nodiscard]] result<placement_plan> plan_placement(const topology& topo, std::size_t shard_count) noexcept;

}  // namespace tessel::numa
