// topology: the machine as shards need to see it -- packages, NUMA nodes, cores and their hardware threads,
// and the caches of a core -- read from hwloc once and kept as plain values. Everything that places shards
// or binds memory takes a topology, so tests feed it hwloc synthetic topologies (a 2-package, 4-node
// machine on this 1-node host) and check the decisions without the hardware.
//
// Indexes: `index` fields are hwloc logical indexes (dense, 0..n-1, in topology order); `os_index` fields
// are what the operating system calls the object (a CPU number for sched_setaffinity, a node number for
// mbind). They coincide on simple machines and differ on many real ones.
//
// Thread safety: const methods from any thread. The hwloc handle is kept for binding (memory_binding.hpp);
// hwloc allows concurrent binding calls on one topology.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessel/error.hpp"

struct hwloc_topology;

namespace tessel::numa {

struct cache_level {
  unsigned level = 0;  ///< 1, 2, 3
  std::uint64_t bytes = 0;
  unsigned line_bytes = 0;
  unsigned shared_by_cores = 0;  ///< cores under one instance of this cache
};

struct core {
  unsigned index = 0;
  unsigned os_index = 0;
  unsigned package = 0;                 ///< package index
  unsigned node = 0;                    ///< NUMA node index
  std::vector<unsigned> pu_os_indexes;  ///< its hardware threads, as the OS numbers CPUs
};

struct numa_node {
  unsigned index = 0;
  unsigned os_index = 0;
  unsigned package = 0;
  std::uint64_t memory_bytes = 0;  ///< local memory (0 when hwloc does not know)
  std::vector<unsigned> cores;     ///< core indexes, ascending
};

struct package {
  unsigned index = 0;
  std::vector<unsigned> nodes;  ///< NUMA node indexes
  std::vector<unsigned> cores;
};

class topology {
 public:
  /// The machine this process runs on (the CPUs and nodes it may use). Errors: io_error (hwloc failed).
  [[nodiscard]] static result<topology> detect() noexcept;
  /// An hwloc synthetic topology (e.g. "pack:2 numa:2 core:4 pu:1"), optionally restricted to the hardware
  /// threads `allowed_pus` (a list such as "0-5,8"; nodes left without CPUs are removed) to describe an
  /// asymmetric machine. Errors: invalid_argument naming the bad description or list.
  [[nodiscard]] static result<topology> synthetic(std::string_view description,
                                                  std::string_view allowed_pus = {}) noexcept;

  topology(topology&&) noexcept;
  topology& operator=(topology&&) noexcept;
  ~topology();

  [[nodiscard]] const std::vector<package>& packages() const noexcept { return packages_; }
  [[nodiscard]] const std::vector<numa_node>& nodes() const noexcept { return nodes_; }
  [[nodiscard]] const std::vector<core>& cores() const noexcept { return cores_; }
  /// The data caches above the first core, innermost first.
  [[nodiscard]] const std::vector<cache_level>& caches() const noexcept { return caches_; }
  /// True for the machine this process runs on; binding is possible only then.
  [[nodiscard]] bool is_this_system() const noexcept { return this_system_; }
  /// A one-line summary: "2 packages, 4 NUMA nodes, 16 cores, 16 hardware threads".
  [[nodiscard]] std::string describe() const;

  /// The hwloc handle, for binding. Never null.
  [[nodiscard]] hwloc_topology* handle() const noexcept { return handle_.get(); }

 private:
  struct closer {
    void operator()(hwloc_topology* t) const noexcept;
  };
  topology() = default;
  /// Reads the loaded `handle_` into the value members. Throws std::bad_alloc.
  void read();

  std::unique_ptr<hwloc_topology, closer> handle_;
  std::vector<package> packages_;
  std::vector<numa_node> nodes_;
  std::vector<core> cores_;
  std::vector<cache_level> caches_;
  bool this_system_ = false;
};

}  // namespace tessel::numa
