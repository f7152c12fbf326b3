// Opening a durable store's tree: pick the meta slot, walk the tree it names, rebuild the allocator.
//
// After a clean close the newest meta slot names a record of the free space (store/free_table.hpp) and the
// allocator is restored from it without reading the tree. Otherwise -- after a crash, space retired but not
// freed is garbage, and the allocator's free lists lived only in memory -- open rebuilds the allocator from
// what the durable tree reaches: every reachable block is live, every gap below the commit's frontier free. The walk
// bounds-checks every reference, so a damaged file is a corruption error, never a wild read.
//
// Falling back: when the newest meta slot is unusable, or its tree fails the walk, the other slot is tried
// -- with every block's checksum verified, because blocks only the older tree reached may have been reused
// since. Its error, if it fails too, names both problems.
//
// Thread safety: runs before the store is shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tessel/error.hpp"

#include "mmap/mapped_region.hpp"
#include "mmap/store_file.hpp"
#include "store/named_roots.hpp"

namespace tessel::detail {

struct recovered_tree {
  int slot = 0;                  ///< the meta slot whose tree is now live
  mmap::meta_slot meta;          ///< its contents
  std::string fallback;          ///< why the newer slot was not used; empty when it was
  bool from_free_table = false;  ///< the allocator came from a clean close's record, not a tree walk
  std::uint64_t blocks = 0;
  std::uint64_t block_bytes = 0;  ///< allocator bytes of the reachable blocks (headers, rounding)
  std::chrono::nanoseconds elapsed{};
  /// Blocks only named snapshots reach (counted in blocks and block_bytes): the store retires them.
  std::vector<named_only_block> named_only;
};

/// `named` are the named snapshots' records: their blocks are in use too.
/// Errors: corruption (no usable slot; the tree or a named snapshot fails the walk or, when
/// `verify_checksums`, a checksum), no_memory.
[[nodiscard]] result<recovered_tree> recover_tree(const mmap::store_file& file, mmap::mapped_region& region,
                                                  bool verify_checksums,
                                                  std::span<const named_snapshot_record> named = {}) noexcept;

}  // namespace tessel::detail
