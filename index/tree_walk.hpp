// A checked walk over the blocks of a tree that may have come from disk: every reference is bounds-checked
// against the range blocks may occupy before anything behind it is read, so a damaged file yields a
// corruption error naming the offset, never a wild read.
//
// Used by recovery (which blocks are live), by commits (which blocks are new since the last durable root:
// a block's children are never born after it, so the walk stops at the first block born at or before
// `born_after`), and by `tessel check`.
//
// Thread safety: reads only; run it on a frozen root.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessel/error.hpp"
#include "tessel/limits.hpp"

#include "index/tree_access.hpp"

namespace tessel::index {

/// Where blocks may lie: [begin, end) of the region.
struct block_bounds {
  std::uint64_t begin;
  std::uint64_t end;
};

/// The smallest block: a leaf's 8-byte header with an empty key and value.
inline constexpr std::uint64_t min_block_bytes = 8;

namespace detail {

[[nodiscard]] inline std::string at_offset(std::uint64_t offset) { return " at offset " + std::to_string(offset); }

/// The size of the block behind `r` after checking its header lies in bounds and describes a sane node;
/// 0 with `problem` set otherwise.
inline std::size_t checked_block_size(std::byte* base, node_ref r, block_bounds bounds, std::string& problem) {
  const std::uint64_t off = r.offset();
  if (off % 8 != 0 || off < bounds.begin || off > bounds.end || bounds.end - off < 8) {
    problem = "reference points outside the tree's blocks" + at_offset(off);
    return 0;
  }
  std::size_t size = 0;
  if (r.is_leaf()) {
    if (leaf_layout::header_size(0) + 8 > bounds.end - off) {
      problem = "leaf header runs past the end of the file" + at_offset(off);
      return 0;
    }
    const std::size_t value_size = leaf_layout::value_size(leaf_at(base, r));
    if (value_size > max_value_size) {
      problem = "leaf value length " + std::to_string(value_size) + " exceeds the limit" + at_offset(off);
      return 0;
    }
    size = leaf_layout::block_size(r.length(), value_size);
  } else if (r.is_inner()) {
    const node_header* h = header_of(base, r);
    if (h->count() > capacity_of(r.kind())) {
      problem = "node counts more children than its kind holds" + at_offset(off);
      return 0;
    }
    if (r.kind() == node_kind::n256 && h->count() > h->slot_groups() * node256::slot_group) {
      problem = "n256 counts more children than it has slots" + at_offset(off);
      return 0;
    }
    size = inner_size(r.kind(), h);
  } else {
    problem = "reference of unknown kind " + std::to_string(static_cast<int>(r.kind())) + at_offset(off);
    return 0;
  }
  if (size > bounds.end - off) {
    problem = "block of " + std::to_string(size) + " bytes runs past the end of the file" + at_offset(off);
    return 0;
  }
  if (r.kind() == node_kind::n48) {
    const node48* n = node_cast<node48>(base, r);
    for (const std::uint8_t slot : n->index) {
      if (slot > node48::capacity) {
        problem = "n48 index names slot " + std::to_string(slot) + at_offset(off);
        return 0;
      }
    }
  }
  return size;
}

}  // namespace detail

/// Calls `visit(ref, size)` for every block under `root` born after epoch `born_after` (0: every block),
/// parents before children. A `visit` that returns bool prunes: false skips the block's children. Errors: corruption
/// naming the first bad reference (or a walk that meets more blocks than the range can hold); no_memory.
///
/// The walk stays linear in the range's size even on a crafted file: blocks do not overlap, and none is
/// smaller than min_block_bytes, so a walk that meets more than (end - begin) / min_block_bytes of them
/// has met one twice -- a damaged reference shared by two parents, whose subtree it would repeat; a chain
/// of such nodes doubles the work at every level (2^60 visits for 60 nodes). A cycle is the depth check's.
template <class Visit>
result<void> walk_blocks(std::byte* base, node_ref root, block_bounds bounds, std::uint64_t born_after,
                         Visit&& visit) noexcept {
  if (root.is_empty()) return {};
  try {
    // (reference, inner nodes above it): a path deeper than the longest key means a cycle.
    std::vector<std::pair<node_ref, std::size_t>> pending{{root, 0}};
    std::string problem;
    const std::uint64_t most_blocks = (bounds.end - std::min(bounds.begin, bounds.end)) / min_block_bytes + 1;
    std::uint64_t met = 0;
    while (!pending.empty()) {
      const auto [r, depth] = pending.back();
      pending.pop_back();
      const std::size_t size = detail::checked_block_size(base, r, bounds, problem);
      if (size == 0) return make_error(errc::corruption, problem);
      if (++met > most_blocks) {
        return make_error(errc::corruption,
                          "the tree reaches more blocks than its space can hold (a block with two "
                          "parents?)" +
                              detail::at_offset(r.offset()));
      }
      if (birth_epoch(base, r) <= born_after) continue;
      if constexpr (std::is_same_v<std::invoke_result_t<Visit&, node_ref, std::size_t>, bool>) {
        if (!visit(r, size)) continue;
      } else {
        visit(r, size);
      }
      if (!r.is_inner()) continue;
      if (depth > max_key_size + 1) {
        return make_error(errc::corruption, "the tree is deeper than any key allows (a reference cycle?)" +
                                                detail::at_offset(r.offset()));
      }
      for (int pos = next_pos(base, r, terminal_pos - 1); pos != npos; pos = next_pos(base, r, pos)) {
        const node_ref child = child_at(base, r, pos);
        if (child.is_empty()) {
          return make_error(errc::corruption, "empty child counted by its node" + detail::at_offset(r.offset()));
        }
        // Fetch every child's first line now: the walk then waits for many misses at once instead of one
        // per block (the walk is most of a recovery's time).
        if (child.offset() < bounds.end) prefetch(base + child.offset());
        pending.emplace_back(child, depth + 1);
      }
    }
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "walking the tree's blocks");
  }
}

}  // namespace tessel::index
