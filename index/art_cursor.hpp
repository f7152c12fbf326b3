// art_cursor: a bidirectional position in one root of an art, kept as the stack of inner nodes above the
// current leaf. Forward steps prefetch the blocks of the next few children of the node being walked, so a
// scan keeps several memory reads in flight instead of waiting for each leaf in turn.
//
// Thread safety: one thread. A cursor on a frozen root stays valid while the writer works; a cursor on the
// live root is invalidated by any write.
#pragma once

#include <cstddef>
#include <vector>

#include "index/tree_access.hpp"
#include "tessel/bytes.hpp"

namespace tessel::index {

template <class Region>
class art_cursor {
 public:
  art_cursor(const Region& region, node_ref root) noexcept : base_(region.base()), root_(root) {
    try {
      stack_.reserve(16);
    } catch (...) {
      // Reserving is only an optimisation; push_back below reports exhaustion.
    }
  }

  [[nodiscard]] bool valid() const noexcept { return !leaf_.is_empty(); }
  [[nodiscard]] key_view key() const noexcept { return leaf_key(base_, leaf_); }
  [[nodiscard]] value_view value() const noexcept { return leaf_value(base_, leaf_); }

  void seek_to_first() noexcept {
    reset();
    if (!root_.is_empty()) descend(root_, true);
  }

  void seek_to_last() noexcept {
    reset();
    if (!root_.is_empty()) descend(root_, false);
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

  void next() noexcept { step(true); }
  void prev() noexcept { step(false); }

 private:
  static constexpr int prefetch_distance = 10;

  struct frame {
    node_ref node;
    int pos;
    int ahead;  // last position whose block was prefetched (forward walks only)
    int lead;   // children prefetched beyond pos
  };

  void reset() noexcept {
    stack_.clear();
    leaf_ = {};
  }

  void prefetch_block(node_ref r) const noexcept {
    const std::byte* p = base_ + r.offset();
    prefetch(p);
    // A small leaf may straddle two lines; its value starts after the 8-byte header and the key.
    if (r.is_leaf()) prefetch(p + 8 + r.length());
  }

  void top_up(frame& f) const noexcept {
    while (f.lead < prefetch_distance) {
      const int a = next_pos(base_, f.node, f.ahead);
      if (a == npos) break;
      prefetch_block(child_at(base_, f.node, a));
      f.ahead = a;
      ++f.lead;
    }
  }

  bool push(node_ref node, int pos, bool forward) noexcept {
    try {
      stack_.push_back({node, pos, pos, 0});
    } catch (...) {
      reset();
      return false;
    }
    if (forward) top_up(stack_.back());
    return true;
  }

  /// Walks from `r` to its first (forward) or last leaf, pushing the inner nodes passed.
  void descend(node_ref r, bool forward) noexcept {
    while (r.is_inner()) {
      const int pos = forward ? next_pos(base_, r, terminal_pos - 1) : prev_pos(base_, r, npos);
      if (!push(r, pos, forward)) return;
      r = child_at(base_, r, pos);
    }
    leaf_ = r;
  }

  /// Moves to the neighbouring leaf, or becomes invalid past either end.
  void step(bool forward) noexcept {
    while (!stack_.empty()) {
      frame& f = stack_.back();
      const int pos = forward ? next_pos(base_, f.node, f.pos) : prev_pos(base_, f.node, f.pos);
      if (pos != npos) {
        f.pos = pos;
        if (forward) {
          if (f.lead > 0) {
            --f.lead;
          } else {
            f.ahead = pos;
          }
          top_up(f);
        }
        descend(child_at(base_, f.node, pos), forward);
        return;
      }
      stack_.pop_back();
    }
    leaf_ = {};
  }

  std::byte* base_;
  node_ref root_;
  std::vector<frame> stack_;
  node_ref leaf_;
};

template <class Region>
void art_cursor<Region>::seek(key_view target) noexcept {
  reset();
  std::byte* const base = base_;
  const auto* k = reinterpret_cast<const std::uint8_t*>(target.data());
  const std::size_t n = target.size();
  node_ref r = root_;
  std::size_t depth = 0;
  while (!r.is_empty()) {
    if (r.is_leaf()) {
      leaf_ = r;
      if (compare(key(), target) < 0) next();
      return;
    }
    if (const std::size_t plen = r.length(); plen != 0) {
      const std::uint8_t* p = full_prefix(base, r, depth);
      const std::size_t avail = n - depth;
      const std::size_t m = plen < avail ? plen : avail;
      int c = 0;
      for (std::size_t i = 0; i < m && c == 0; ++i) c = static_cast<int>(p[i]) - static_cast<int>(k[depth + i]);
      if (c > 0 || (c == 0 && avail < plen)) {
        descend(r, true);  // every key below is greater than target
        return;
      }
      if (c < 0) break;  // every key below is smaller: continue after this subtree
      depth += plen;
    }
    if (depth == n) {
      descend(r, true);  // the terminal equals target; any child is greater
      return;
    }
    bool exact = false;
    const int pos = lower_bound_pos(base, r, k[depth], exact);
    if (pos == npos) break;
    if (!push(r, pos, true)) return;
    if (!exact) {
      descend(child_at(base, r, pos), true);
      return;
    }
    r = child_at(base, r, pos);
    ++depth;
  }
  // Everything below the node where the walk stopped is smaller than target: the answer is the next leaf
  // after that subtree, i.e. the next position of the frames above it.
  leaf_ = {};
  step(true);
}

}  // namespace tessel::index
