#include "numa/placement.hpp"

#include <algorithm>
#include <new>

namespace tessel::numa {

std::vector<std::size_t> placement_plan::shards_per_node(std::size_t nodes) const {
  std::vector<std::size_t> out(nodes, 0);
  for (const shard_placement& s : shards) {
    if (s.node < nodes) ++out[s.node];
  }
  return out;
}

result<placement_plan> plan_placement(const topology& topo, std::size_t shard_count) noexcept {
  try {
    const std::vector<core>& cores = topo.cores();
    if (cores.empty()) return make_error(errc::invalid_argument, "the topology has no cores to place shards on");
    if (shard_count == 0) shard_count = cores.size();
    const std::vector<numa_node>& nodes = topo.nodes();

    // Shards per node in proportion to its cores: the floor of each share, then one more to the nodes with
    // the largest remainders (ties to the lower index), so the counts add up exactly.
    std::vector<std::size_t> count(nodes.size(), 0);
    std::vector<std::pair<std::size_t, std::size_t>> remainders;  // (remainder * cores, node)
    std::size_t given = 0;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const std::size_t share = shard_count * nodes[n].cores.size();
      count[n] = share / cores.size();
      given += count[n];
      remainders.emplace_back(share % cores.size(), n);
    }
    std::stable_sort(remainders.begin(), remainders.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::size_t i = 0; given < shard_count; ++i, ++given) ++count[remainders[i].second];

    placement_plan plan;
    plan.shards.reserve(shard_count);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      for (std::size_t k = 0; k < count[n]; ++k) {
        const core& c = cores[nodes[n].cores[k % nodes[n].cores.size()]];
        plan.shards.push_back(
            {static_cast<unsigned>(plan.shards.size()), c.index, nodes[n].index, nodes[n].os_index, c.pu_os_indexes});
      }
    }
    return plan;
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "planning shard placement");
  }
}

}  // namespace tessel::numa
