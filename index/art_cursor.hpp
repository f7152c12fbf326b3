// art_cursor: a bidirectional position in one root of an art, kept as the stack of inner nodes above the
// current leaf. Leaves sit wherever the allocator put them, so a scan would wait for one DRAM miss per key;
// instead a second walk (the scout) runs a fixed number of leaves ahead of forward iteration, reading only
// inner nodes and prefetching each leaf it reaches, which keeps many misses in flight across node
// boundaries.
//
// Thread safety: one thread. A cursor on a frozen root stays valid while the writer works; a cursor on the
// live root is invalidated by any write.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "tessel/bytes.hpp"

#include "index/tree_access.hpp"

namespace tessel::index {

template <class Region>
class art_cursor {
 public:
  art_cursor(const Region& region, node_ref root) noexcept : base_(region.base()), root_(root) {}

  [[nodiscard]] bool valid() const noexcept { return !main_.leaf.is_empty(); }
  [[nodiscard]] key_view key() const noexcept { return leaf_key(base_, main_.leaf); }
  [[nodiscard]] value_view value() const noexcept { return leaf_value(base_, main_.leaf); }

  void seek_to_first() noexcept {
    main_.reset();
    if (!root_.is_empty()) descend(main_, root_, true);
    launch_scout();
  }

  void seek_to_last() noexcept {
    main_.reset();
    if (!root_.is_empty()) descend(main_, root_, false);
    scout_.reset();
  }

  /// Moves to the first key >= `target`.
  void seek(key_view target) noexcept;

  /// Moves to the last key <= `target`.
  void seek_for_prev(key_view target) noexcept {
    seek(target);
    if (!valid()) {
      seek_to_last();
    } else if (!equal(key(), target)) {
      prev();
    }
  }

  void next() noexcept {
    step(main_, true);
    // Keep the scout scout_distance leaves ahead; each leaf it reaches is prefetched for main_ to find.
    if (!scout_.leaf.is_empty()) {
      step(scout_, true);
      if (!scout_.leaf.is_empty()) prefetch_block(scout_.leaf);
    }
  }

  void prev() noexcept {
    step(main_, false);
    scout_.reset();  // the scout only runs ahead of forward walks
  }

 private:
  // How far ahead the scout runs, in leaves: enough misses in flight to cover DRAM latency.
  static constexpr int scout_distance = 16;

  struct frame {
    node_ref node;
    int pos;
  };

  /// A position: the inner nodes above a leaf, and the leaf.
  struct walk {
    std::vector<frame> stack;
    node_ref leaf;
    void reset() noexcept {
      stack.clear();
      leaf = {};
    }
  };

  void prefetch_block(node_ref r) const noexcept {
    const std::byte* p = base_ + r.offset();
    prefetch(p);
    // A small leaf may straddle two lines: its value starts after the 8-byte header and the key. An inner
    // node's children start in its second line.
    prefetch(p + (r.is_leaf() ? 8 + r.length() : cache_line_size));
  }

  /// Brings in the inner node after f.pos while the walk is still busy with the subtree at f.pos, so the
  /// walk does not stall when it gets there. Whole node up to a cap: its children can be anywhere in it.
  void prefetch_next_sibling(const frame& f) const noexcept {
    const int pos = next_pos(base_, f.node, f.pos);
    if (pos == npos) return;
    const node_ref sibling = child_at(base_, f.node, pos);
    if (!sibling.is_inner()) return;
    const std::byte* p = base_ + sibling.offset();
    const std::size_t size =
        std::min<std::size_t>(inner_size(sibling.kind(), header_of(base_, sibling)), 12 * cache_line_size);
    for (std::size_t at = 0; at < size; at += cache_line_size) prefetch(p + at);
  }

  bool push(walk& w, node_ref node, int pos) const noexcept {
    try {
      w.stack.push_back({node, pos});
      prefetch_next_sibling(w.stack.back());
    } catch (...) {
      w.reset();
      return false;
    }
    return true;
  }

  /// Walks from `r` to its first (forward) or last leaf, pushing the inner nodes passed.
  void descend(walk& w, node_ref r, bool forward) const noexcept {
    while (r.is_inner()) {
      const int pos = forward ? next_pos(base_, r, terminal_pos - 1) : prev_pos(base_, r, npos);
      if (!push(w, r, pos)) return;
      r = child_at(base_, r, pos);
    }
    w.leaf = r;
  }

  /// Moves to the neighbouring leaf, or becomes invalid past either end. Reads inner nodes only.
  void step(walk& w, bool forward) const noexcept {
    while (!w.stack.empty()) {
      frame& f = w.stack.back();
      const int pos = forward ? next_pos(base_, f.node, f.pos) : prev_pos(base_, f.node, f.pos);
      if (pos != npos) {
        f.pos = pos;
        if (forward) prefetch_next_sibling(f);
        descend(w, child_at(base_, f.node, pos), forward);
        return;
      }
      w.stack.pop_back();
    }
    w.leaf = {};
  }

  /// Starts the scout at main_'s position and runs it ahead, prefetching the leaves it passes.
  void launch_scout() noexcept {
    scout_.reset();
    if (main_.leaf.is_empty()) return;
    try {
      scout_.stack = main_.stack;
    } catch (...) {
      return;  // no scout: scans still work, only slower
    }
    scout_.leaf = main_.leaf;
    for (int i = 0; i < scout_distance && !scout_.leaf.is_empty(); ++i) {
      step(scout_, true);
      if (!scout_.leaf.is_empty()) prefetch_block(scout_.leaf);
    }
  }

  std::byte* base_;
  node_ref root_;
  walk main_;
  walk scout_;
};

template <class Region>
void art_cursor<Region>::seek(key_view target) noexcept {
  main_.reset();
  std::byte* const base = base_;
  const auto* k = reinterpret_cast<const std::uint8_t*>(target.data());
  const std::size_t n = target.size();
  node_ref r = root_;
  std::size_t depth = 0;
  while (!r.is_empty()) {
    if (r.is_leaf()) {
      main_.leaf = r;
      if (compare(key(), target) < 0) step(main_, true);
      launch_scout();
      return;
    }
    if (const std::size_t plen = r.length(); plen != 0) {
      const std::uint8_t* p = full_prefix(base, r, depth);
      const std::size_t avail = n - depth;
      const std::size_t m = plen < avail ? plen : avail;
      int c = 0;
      for (std::size_t i = 0; i < m && c == 0; ++i) c = static_cast<int>(p[i]) - static_cast<int>(k[depth + i]);
      if (c > 0 || (c == 0 && avail < plen)) {
        descend(main_, r, true);  // every key below is greater than target
        launch_scout();
        return;
      }
      if (c < 0) break;  // every key below is smaller: continue after this subtree
      depth += plen;
    }
    if (depth == n) {
      descend(main_, r, true);  // the terminal equals target; any child is greater
      launch_scout();
      return;
    }
    bool exact = false;
    const int pos = lower_bound_pos(base, r, k[depth], exact);
    if (pos == npos) break;
    if (!push(main_, r, pos)) return;
    if (!exact) {
      descend(main_, child_at(base, r, pos), true);
      launch_scout();
      return;
    }
    r = child_at(base, r, pos);
    ++depth;
  }
  // Everything below the node where the walk stopped is smaller than target: the answer is the next leaf
  // after that subtree, i.e. the next position of the frames above it.
  main_.leaf = {};
  step(main_, true);
  launch_scout();
}

}  // namespace tessel::index
