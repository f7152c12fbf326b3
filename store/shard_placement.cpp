// Placing a sharded store's shards on this machine (docs/concurrency.md §Topology and placement): each
// shard's region bound to its NUMA node, and in worker mode one worker per shard pinned to its core (and,
// on jemalloc, allocating from its node's arena), by numa::plan_placement on this machine's topology.
#include <functional>
#include <optional>
#include <utility>

#include "numa/binding.hpp"
#include "numa/node_arenas.hpp"
#include "numa/placement.hpp"
#include "store/sharded_impl.hpp"
#include "store/store_impl.hpp"

namespace tessel::detail {

namespace {

/// Binds the region shard `shard` lives in to `node_os_index`: a dram shard's whole reservation (it grows
/// by mprotect inside it, so the policy covers every later page), a pmem shard's pool, and an mmap shard's
/// file mapping -- what is mapped now, and each range it maps as it grows (mapped_region::on_mapped).
/// Best effort: a kernel without NUMA policy, or a range it refuses, keeps the default policy.
void bind_region(store& shard, const numa::topology& topo, unsigned node_os_index) {
  store_impl& impl = store_access::impl(shard);
  auto bind = [&topo, node_os_index](void* address, std::size_t bytes) {
    if (bytes > 0) (void)numa::bind_memory(topo, {address, bytes, node_os_index});
  };
  if (mmap::mapped_region* m = impl.mapped(); m != nullptr) {
    if (!m->file_backed()) {
      bind(m->base(), m->reserved_bytes());
      return;
    }
    bind(m->base(), m->file_size());
    m->on_mapped(bind);
    return;
  }
  if (const pmem::pool_region* p = impl.pool(); p != nullptr) bind(p->base(), p->pool_bytes());
}

}  // namespace

/// Places the shards on this machine (docs/concurrency.md): binds their regions to their nodes when asked,
/// and in worker mode starts one worker per shard, pinned to its core when asked. A machine whose topology
/// hwloc cannot read, or that refuses binding, runs them unbound.
result<void> place_shards(sharded_impl& impl, const options& opts, const shard_options& s) {
  impl.mode = s.mode;
  const bool pin = s.mode == shard_mode::workers && s.pin_workers;
  std::optional<numa::placement_plan> plan;
  if (pin || s.bind_memory) {
    if (auto t = numa::topology::detect()) {
      if (auto p = numa::plan_placement(*t, impl.shards.size())) plan = std::move(*p);
      impl.topology.emplace(std::move(*t));
    }
  }
  if (plan && s.bind_memory) {
    for (std::size_t i = 0; i < impl.shards.size(); ++i) {
      bind_region(*impl.shards[i], *impl.topology, plan->shards[i].node_os_index);
    }
  }
  if (s.mode != shard_mode::workers) return {};
  for (std::size_t i = 0; i < impl.shards.size(); ++i) {
    // Readers see published versions only: what the shard holds at open (its recovered log included) is
    // published before the worker's first batch, or a reopened store would read empty until it.
    if (auto ok = impl.shards[i]->publish(); !ok) return ok;
    std::function<result<void>()> pin_worker;
    if (plan && pin) {
      pin_worker = [&impl, place = plan->shards[i]]() -> result<void> {
        // On jemalloc, the worker's own allocations come from its node's arena (node_arenas.hpp).
        (void)numa::use_node_arena(place.node);
        auto ok = numa::pin_current_thread(*impl.topology, place);
        if (!ok && ok.error().code() == errc::not_supported) return {};
        return ok;
      };
    }
    impl.workers.push_back(std::make_unique<shard_worker>(*impl.shards[i], impl.locks[i], opts.durability,
                                                          s.queue_capacity, std::move(pin_worker)));
  }
  return {};
}

}  // namespace tessel::detail
