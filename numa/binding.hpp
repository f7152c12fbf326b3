// Binding a shard to its place (placement.hpp): its region's memory to its NUMA node (mbind through hwloc,
// for anonymous, file and pool mappings alike: the policy applies to the pages the range faults in), and
// its worker thread to its core's hardware threads.
//
// A binding request is computed from the plan as a plain value, so tests can check the requests a
// synthetic many-node topology produces; applying one needs the topology of this machine (a synthetic one
// answers not_supported rather than binding to nodes that do not exist).
//
// Thread safety: any thread; hwloc's binding calls are thread-safe.
#pragma once

#include <cstddef>
#include <vector>

#include "tessel/error.hpp"

#include "numa/placement.hpp"
#include "numa/topology.hpp"

namespace tessel::numa {

/// Bind [address, address + bytes) to the NUMA node the OS numbers `node_os_index`.
struct memory_binding {
  void* address = nullptr;
  std::size_t bytes = 0;
  unsigned node_os_index = 0;
};

/// The binding of a shard's region [address, address + bytes).
[[nodiscard]] inline memory_binding binding_for(const shard_placement& shard, void* address,
                                                std::size_t bytes) noexcept {
  return {address, bytes, shard.node_os_index};
}

/// Applies `b`: pages of the range are allocated on its node from now on, and those already there are
/// moved. Errors: not_supported (a topology that is not this machine's, or an OS without NUMA policy),
/// invalid_argument (no such node in `topo`; an empty or unaligned range), io_error.
[[nodiscard]] result<void> bind_memory(const topology& topo, const memory_binding& b) noexcept;

/// The NUMA nodes (OS indexes) [address, address + bytes) is bound to: after bind_memory, exactly its
/// node; empty when the range has the default policy. Errors: as bind_memory.
[[nodiscard]] result<std::vector<unsigned>> bound_nodes(const topology& topo, void* address,
                                                        std::size_t bytes) noexcept;

/// Runs the calling thread on `shard`'s hardware threads only. Errors: not_supported, io_error.
[[nodiscard]] result<void> pin_current_thread(const topology& topo, const shard_placement& shard) noexcept;

/// The OS indexes of the hardware threads the calling thread may run on. Errors: not_supported, io_error.
[[nodiscard]] result<std::vector<unsigned>> current_thread_pus(const topology& topo) noexcept;

}  // namespace tessel::numa
