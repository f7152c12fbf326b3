// The clean-close record of free space (docs/format.md §Free table): a block listing every free extent of
// the allocator, referenced by the meta slot a clean close writes. Open after a clean close restores the
// allocator from it instead of walking the tree; `tessel check` cross-checks it against the tree.
//
// Thread safety: the writer's (under the store mutex) and open's.
#pragma once

#include <cstdint>
#include <vector>

#include "tessel/error.hpp"

#include "common/block_allocator.hpp"
#include "mmap/mapped_region.hpp"

namespace tessel::detail {

struct free_table_ref {
  std::uint64_t offset = 0;  ///< of the block's payload
  std::uint64_t bytes = 0;   ///< payload size
};

/// Allocates the table block, then fills it with every free extent that remains and seals it.
/// Errors: the region's (no_space, no_memory).
[[nodiscard]] result<free_table_ref> write_free_table(mmap::mapped_region& region) noexcept;

/// The extents of the table at `ref`, sorted, checked against its block header and against [first, frontier).
/// Errors: corruption naming what is wrong.
[[nodiscard]] result<std::vector<block_allocator::extent>> read_free_table(const mmap::mapped_region& region,
                                                                           free_table_ref ref,
                                                                           std::uint64_t frontier) noexcept;

}  // namespace tessel::detail
