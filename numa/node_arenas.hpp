// node_arenas: a jemalloc arena per NUMA node for the memory shards allocate outside their regions (queued
// writes, log buffers, snapshot states), when the process runs on jemalloc -- linked by the application or
// LD_PRELOADed. tessel never makes jemalloc the process's allocator itself (a library must not replace its
// host's malloc), so elsewhere these calls answer not_supported and change nothing.
//
// A shard worker pinned to a node selects its node's arena for its thread (jemalloc's "thread.arena"), so
// what it allocates comes from extents it touches first, on its node. Arenas are created on first use
// ("arenas.create") and kept for the process's life.
//
// Thread safety: any thread.
#pragma once

#include "tessel/error.hpp"

namespace tessel::numa {

/// True when the process's malloc is jemalloc (its mallctl is found at run time).
[[nodiscard]] bool jemalloc_available() noexcept;

/// Makes the calling thread allocate from the arena of NUMA node `node` (an index of the topology) and
/// returns the arena's number. Errors: not_supported (no jemalloc), io_error (jemalloc refused).
[[nodiscard]] result<unsigned> use_node_arena(unsigned node) noexcept;

/// The arena the calling thread allocates from. Errors: as use_node_arena.
[[nodiscard]] result<unsigned> current_arena() noexcept;

}  // namespace tessel::numa
