// Which blocks only named snapshots keep alive. Open walks the live tree first (recovery, the pool audit,
// `tessel check`); then this walks each named root and returns the blocks that the live tree does not
// share: they are allocated, yet on no retired list of the new process, so the store retires them again
// (store_impl::adopt_named_snapshots), and a drop frees them once nothing else reaches them.
//
// Roots are walked newest first, and a block met before -- live, or under an earlier named root -- is
// skipped with its whole subtree (a finished walk reached everything below it). So the cost is the blocks
// the named snapshots do not share with the live tree, and each block is reported once, with the epoch of
// the newest named snapshot that reaches it.
//
// Thread safety: reads only; runs before the store is shared, or on a read-only handle.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "tessel/error.hpp"

#include "index/tree_walk.hpp"
#include "store/snapshot_catalog.hpp"

namespace tessel::detail {

struct named_only_block {
  index::node_ref ref;
  std::size_t size = 0;          ///< of the block, without its header
  std::uint64_t last_epoch = 0;  ///< of the newest named snapshot reaching it
};

/// Walks the roots of `records`, skipping blocks for which `is_live(ref, size)` is true. Errors: corruption
/// naming the snapshot and the bad reference; no_memory.
template <class IsLive>
result<std::vector<named_only_block>> walk_named_roots(std::byte* base, index::block_bounds bounds,
                                                       std::span<const named_snapshot_record> records,
                                                       IsLive&& is_live) noexcept {
  try {
    std::vector<const named_snapshot_record*> newest_first;
    for (const auto& r : records) newest_first.push_back(&r);
    std::sort(newest_first.begin(), newest_first.end(), [](auto* a, auto* b) { return a->epoch > b->epoch; });
    std::vector<named_only_block> out;
    std::unordered_set<std::uint64_t> seen;
    for (const named_snapshot_record* record : newest_first) {
      auto walked = index::walk_blocks(base, index::node_ref::from_bits(record->root), bounds, 0,
                                       [&](index::node_ref r, std::size_t size) {
                                         if (is_live(r, size) || !seen.insert(r.bits()).second) return false;
                                         out.push_back({r, size, record->epoch});
                                         return true;
                                       });
      if (!walked) {
        return make_error(walked.error().code(),
                          "named snapshot '" + record->name + "': " + std::string(walked.error().message()));
      }
    }
    return out;
  } catch (...) {
    return make_error(errc::no_memory, "walking the named snapshots");
  }
}

}  // namespace tessel::detail
