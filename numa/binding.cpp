#include "numa/binding.hpp"

#include <cerrno>
#include <memory>
#include <new>
#include <string>

#include <hwloc.h>

#include "common/errno_error.hpp"

namespace tessel::numa {

namespace {

using bitmap = std::unique_ptr<hwloc_bitmap_s, void (*)(hwloc_bitmap_t)>;

bitmap new_bitmap() { return {hwloc_bitmap_alloc(), hwloc_bitmap_free}; }

/// not_supported for a topology binding cannot use, or an OS that refuses the policy; errno's error else.
error binding_error(int err, const std::string& what) {
  if (err == ENOSYS || err == EXDEV) return error(errc::not_supported, what + ": the system does not support it");
  return errno_error(err, what);
}

result<void> require_this_system(const topology& topo, const char* what) {
  if (!topo.is_this_system()) {
    return make_error(errc::not_supported, std::string(what) + " needs this machine's topology, not a synthetic one (" +
                                               topo.describe() + ")");
  }
  return {};
}

std::vector<unsigned> members(hwloc_const_bitmap_t set) {
  std::vector<unsigned> out;
  for (int i = hwloc_bitmap_first(set); i != -1; i = hwloc_bitmap_next(set, i)) out.push_back(static_cast<unsigned>(i));
  return out;
}

}  // namespace

result<void> bind_memory(const topology& topo, const memory_binding& b) noexcept {
  try {
    bool known = false;
    for (const numa_node& n : topo.nodes()) known = known || n.os_index == b.node_os_index;
    if (!known) {
      return make_error(errc::invalid_argument,
                        "NUMA node " + std::to_string(b.node_os_index) + " is not in " + topo.describe());
    }
    if (b.bytes == 0) return make_error(errc::invalid_argument, "binding an empty memory range");
    if (auto ok = require_this_system(topo, "binding memory"); !ok) return ok;
    bitmap nodes = new_bitmap();
    if (!nodes) return make_error(errc::no_memory, "allocating a node set");
    hwloc_bitmap_only(nodes.get(), b.node_os_index);
    if (hwloc_set_area_membind(topo.handle(), b.address, b.bytes, nodes.get(), HWLOC_MEMBIND_BIND,
                               HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_MIGRATE) != 0) {
      const int err = errno;
      if (err == EINVAL) return make_error(errc::invalid_argument, "binding a range that is not page aligned");
      return tl::unexpected(binding_error(err, "binding memory to NUMA node " + std::to_string(b.node_os_index)));
    }
    return {};
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "binding memory");
  }
}

result<std::vector<unsigned>> bound_nodes(const topology& topo, void* address, std::size_t bytes) noexcept {
  try {
    if (auto ok = require_this_system(topo, "reading a memory binding"); !ok) return tl::unexpected(ok.error());
    bitmap nodes = new_bitmap();
    if (!nodes) return make_error(errc::no_memory, "allocating a node set");
    hwloc_membind_policy_t policy{};
    if (hwloc_get_area_membind(topo.handle(), address, bytes, nodes.get(), &policy, HWLOC_MEMBIND_BYNODESET) != 0) {
      return tl::unexpected(binding_error(errno, "reading a memory binding"));
    }
    if (policy != HWLOC_MEMBIND_BIND) return std::vector<unsigned>{};  // the default policy: no binding
    return members(nodes.get());
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "reading a memory binding");
  }
}

result<void> pin_current_thread(const topology& topo, const shard_placement& shard) noexcept {
  try {
    if (auto ok = require_this_system(topo, "pinning a thread"); !ok) return ok;
    bitmap cpus = new_bitmap();
    if (!cpus) return make_error(errc::no_memory, "allocating a CPU set");
    for (const unsigned pu : shard.pu_os_indexes) hwloc_bitmap_set(cpus.get(), pu);
    if (hwloc_bitmap_iszero(cpus.get())) return make_error(errc::invalid_argument, "a shard with no hardware thread");
    if (hwloc_set_cpubind(topo.handle(), cpus.get(), HWLOC_CPUBIND_THREAD) != 0) {
      return tl::unexpected(binding_error(errno, "pinning a thread to core " + std::to_string(shard.core)));
    }
    return {};
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "pinning a thread");
  }
}

result<std::vector<unsigned>> current_thread_pus(const topology& topo) noexcept {
  try {
    if (auto ok = require_this_system(topo, "reading a thread's binding"); !ok) return tl::unexpected(ok.error());
    bitmap cpus = new_bitmap();
    if (!cpus) return make_error(errc::no_memory, "allocating a CPU set");
    if (hwloc_get_cpubind(topo.handle(), cpus.get(), HWLOC_CPUBIND_THREAD) != 0) {
      return tl::unexpected(binding_error(errno, "reading a thread's binding"));
    }
    return members(cpus.get());
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "reading a thread's binding");
  }
}

}  // namespace tessel::numa
