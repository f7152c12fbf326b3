#include "numa/topology.hpp"

#include <algorithm>
#include <new>
#include <utility>

#include <hwloc.h>

namespace tessel::numa {

namespace {

/// A topology handle, initialised but not loaded; null when hwloc cannot allocate one.
hwloc_topology_t new_handle() noexcept {
  hwloc_topology_t t = nullptr;
  if (hwloc_topology_init(&t) != 0) return nullptr;
  return t;
}

/// The OS indexes of the set bits of `set`.
std::vector<unsigned> os_indexes(hwloc_const_bitmap_t set) {
  std::vector<unsigned> out;
  for (int i = hwloc_bitmap_first(set); i != -1; i = hwloc_bitmap_next(set, i)) out.push_back(static_cast<unsigned>(i));
  return out;
}

}  // namespace

void topology::closer::operator()(hwloc_topology* t) const noexcept { hwloc_topology_destroy(t); }

topology::topology(topology&&) noexcept = default;
topology& topology::operator=(topology&&) noexcept = default;
topology::~topology() = default;

result<topology> topology::detect() noexcept {
  try {
    topology out;
    out.handle_.reset(new_handle());
    if (!out.handle_) return make_error(errc::no_memory, "allocating an hwloc topology");
    if (hwloc_topology_load(out.handle_.get()) != 0) {
      return make_error(errc::io_error, "hwloc could not read this machine's topology");
    }
    out.this_system_ = hwloc_topology_is_thissystem(out.handle_.get()) != 0;
    out.read();
    return out;
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "reading the machine's topology");
  }
}

result<topology> topology::synthetic(std::string_view description, std::string_view allowed_pus) noexcept {
  try {
    topology out;
    out.handle_.reset(new_handle());
    if (!out.handle_) return make_error(errc::no_memory, "allocating an hwloc topology");
    const std::string text(description);
    if (hwloc_topology_set_synthetic(out.handle_.get(), text.c_str()) != 0) {
      return make_error(errc::invalid_argument, "not an hwloc synthetic topology: '" + text + "'");
    }
    if (hwloc_topology_load(out.handle_.get()) != 0) {
      return make_error(errc::invalid_argument, "hwloc could not build the synthetic topology '" + text + "'");
    }
    if (!allowed_pus.empty()) {
      const std::string list(allowed_pus);
      std::unique_ptr<hwloc_bitmap_s, void (*)(hwloc_bitmap_t)> set(hwloc_bitmap_alloc(), hwloc_bitmap_free);
      if (!set) return make_error(errc::no_memory, "allocating a CPU set");
      if (hwloc_bitmap_list_sscanf(set.get(), list.c_str()) != 0 || hwloc_bitmap_iszero(set.get())) {
        return make_error(errc::invalid_argument, "not a list of hardware threads: '" + list + "'");
      }
      if (hwloc_topology_restrict(out.handle_.get(), set.get(), HWLOC_RESTRICT_FLAG_REMOVE_CPULESS) != 0) {
        return make_error(errc::invalid_argument, "'" + list + "' leaves no hardware thread of '" + text + "'");
      }
    }
    out.this_system_ = false;
    out.read();
    return out;
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "building a synthetic topology");
  }
}

void topology::read() {
  hwloc_topology_t t = handle_.get();
  const int node_count = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  const int package_count = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  // A machine without a package level is one package.
  packages_.resize(package_count > 0 ? static_cast<std::size_t>(package_count) : 1);
  for (std::size_t i = 0; i < packages_.size(); ++i) packages_[i].index = static_cast<unsigned>(i);
  auto package_of = [&](hwloc_obj_t obj) -> unsigned {
    hwloc_obj_t p = obj;
    while (p != nullptr && p->type != HWLOC_OBJ_PACKAGE) p = p->parent;
    return p != nullptr ? p->logical_index : 0;
  };

  for (int i = 0; i < node_count; ++i) {
    hwloc_obj_t n = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    if (n == nullptr) continue;  // hwloc counted it: never
    numa_node node;
    node.index = n->logical_index;
    node.os_index = n->os_index;
    node.package = package_of(n);
    node.memory_bytes = n->attr != nullptr ? n->attr->numanode.local_memory : 0;
    packages_[node.package].nodes.push_back(node.index);
    nodes_.push_back(std::move(node));
  }

  const int core_count = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
  for (int i = 0; i < core_count; ++i) {
    hwloc_obj_t c = hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, static_cast<unsigned>(i));
    if (c == nullptr) continue;
    core info;
    info.index = c->logical_index;
    info.os_index = c->os_index;
    info.package = package_of(c);
    info.pu_os_indexes = os_indexes(c->cpuset);
    // Its node: the one whose CPUs include the core's (hwloc 2 hangs NUMA nodes beside the CPU tree).
    for (int j = 0; j < node_count; ++j) {
      hwloc_obj_t n = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(j));
      if (n != nullptr && hwloc_bitmap_isincluded(c->cpuset, n->cpuset)) {
        info.node = n->logical_index;
        break;
      }
    }
    nodes_[info.node].cores.push_back(info.index);
    packages_[info.package].cores.push_back(info.index);
    cores_.push_back(std::move(info));
  }

  if (hwloc_obj_t first = hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, 0); first != nullptr) {
    for (hwloc_obj_t a = first->parent; a != nullptr; a = a->parent) {
      if (a->type != HWLOC_OBJ_L1CACHE && a->type != HWLOC_OBJ_L2CACHE && a->type != HWLOC_OBJ_L3CACHE) continue;
      cache_level c;
      c.level = a->attr->cache.depth;
      c.bytes = a->attr->cache.size;
      c.line_bytes = a->attr->cache.linesize;
      c.shared_by_cores = static_cast<unsigned>(hwloc_get_nbobjs_inside_cpuset_by_type(t, a->cpuset, HWLOC_OBJ_CORE));
      caches_.push_back(c);
    }
  }
}

std::string topology::describe() const {
  std::size_t threads = 0;
  for (const core& c : cores_) threads += c.pu_os_indexes.size();
  auto plural = [](std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  return plural(packages_.size(), "package", "packages") + ", " + plural(nodes_.size(), "NUMA node", "NUMA nodes") +
         ", " + plural(cores_.size(), "core", "cores") + ", " + plural(threads, "hardware thread", "hardware threads");
}

}  // namespace tessel::numa
