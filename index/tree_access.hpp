// Read-only helpers shared by the tree and its cursors: leaf fields, the full prefix of a node, the leftmost
// leaf below a node, block sizes and birth epochs.
//
// Thread safety: read only; safe on any frozen (immutable) part of a tree from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tessel/bytes.hpp"

#include "index/node_ops.hpp"

namespace tessel::index {

TESSEL_ALWAYS_INLINE const std::byte* leaf_at(const std::byte* base, node_ref leaf) noexcept {
  return base + leaf.offset();
}

TESSEL_ALWAYS_INLINE key_view leaf_key(const std::byte* base, node_ref leaf) noexcept {
  return {leaf_layout::key(leaf_at(base, leaf)), leaf.length()};
}

TESSEL_ALWAYS_INLINE value_view leaf_value(const std::byte* base, node_ref leaf) noexcept {
  const std::byte* p = leaf_at(base, leaf);
  return {leaf_layout::key(p) + leaf.length(), leaf_layout::value_size(p)};
}

/// The leftmost leaf below `r` (the terminal of a node comes before its children). REQUIRES: r non-empty.
inline node_ref min_leaf(std::byte* base, node_ref r) noexcept {
  while (r.is_inner()) r = child_at(base, r, next_pos(base, r, terminal_pos - 1));
  return r;
}

/// All prefix bytes of inner node `r`, whose prefix starts at key offset `depth`: the inline bytes when they
/// hold the whole prefix, otherwise the matching bytes of any leaf below (all leaves below share them).
inline const std::uint8_t* full_prefix(std::byte* base, node_ref r, std::size_t depth) noexcept {
  if (r.length() <= prefix_capacity(r.kind())) return inline_prefix(base, r);
  return reinterpret_cast<const std::uint8_t*>(leaf_key(base, min_leaf(base, r)).data()) + depth;
}

[[nodiscard]] inline std::uint64_t birth_epoch(std::byte* base, node_ref r) noexcept {
  return r.is_leaf() ? leaf_layout::epoch(leaf_at(base, r)) : header_of(base, r)->epoch();
}

[[nodiscard]] inline std::size_t block_size(std::byte* base, node_ref r) noexcept {
  if (r.is_leaf()) return leaf_layout::block_size(r.length(), leaf_layout::value_size(leaf_at(base, r)));
  return inner_size(r.kind(), header_of(base, r));
}

}  // namespace tessel::index
