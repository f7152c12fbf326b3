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

/// The region a shard's tree lives in, for binding: a dram shard's whole reservation, a pmem shard's pool;
/// nothing for an mmap shard (see shard_options::bind_memory).
std::optional<std::pair<void*, std::size_t>> bindable_region(store& shard) noexcept {
  store_impl& impl = store_access::impl(shard);
  if (const mmap::mapped_region* m = impl.mapped(); m != nullptr && !m->file_backed()) {
    return std::pair<void*, std::size_t>{m->base(), m->reserved_bytes()};
  }
  if (const pmem::pool_region* p = impl.pool(); p != nullptr) {
    return std::pair<void*, std::size_t>{p->base(), p->pool_bytes()};
  }
  return std::nullopt;
}

}  // namespace

/// Places the shards on this machine (docs/concurrency.md): binds their regions to their nodes when asked,
/// and in worker mode starts one worker per shard, pinned to its core when asked. A machine whose topology
/// hwloc cannot read, or that refuses binding, runs them unbound.
void place_shards(sharded_impl& impl, const options& opts, const shard_options& s) {
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
      if (auto range = bindable_region(*impl.shards[i])) {
        // Best effort: a kernel without NUMA policy, or a range it refuses, leaves the default policy.
        (void)numa::bind_memory(*impl.topology, numa::binding_for(plan->shards[i], range->first, range->second));
      }
    }
  }
  if (s.mode != shard_mode::workers) return;
  for (std::size_t i = 0; i < impl.shards.size(); ++i) {
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
}

}  // namespace tessel::detail
