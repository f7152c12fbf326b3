// art_cursor: a bidirectional position in one root of an art.
//
// Leaves sit wherever the allocator put them, so walking them in key order would wait for one DRAM miss per
// key. Forward iteration therefore runs a single walk, the scout, a fixed number of leaves ahead of the
// position: it reads only inner nodes (keeping the next few inner siblings at each level in flight) and
// prefetches every leaf it reaches into a ring; next() takes the position from the ring. The scout steps
// through each node's children by their index in the node (scout_frame), so the work per leaf is a few
// loads and compares. Backward moves use a plain stack walk (main_), which a seek rebuilds when the direction
// changes.
//
// Thread safety: one thread. A cursor on a frozen root stays valid while the writer works; a cursor on the
// live root is invalidated by any write.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tessel/bytes.hpp"

#include "index/tree_access.hpp"

namespace tessel::index {

template <class Region>
class art_cursor {
 public:
  art_cursor(const Region& region, node_ref root) noexcept : base_(region.base()), root_(root) {}

  /// Repoints the cursor at another version of the tree (the live root after writes copied it); the
  /// position is lost until the next seek.
  void reset_root(node_ref root) noexcept {
    root_ = root;
    leaf_ = {};
  }

  [[nodiscard]] bool valid() const noexcept { return !leaf_.is_empty(); }
  [[nodiscard]] key_view key() const noexcept { return leaf_key(base_, leaf_); }
  [[nodiscard]] value_view value() const noexcept { return leaf_value(base_, leaf_); }

  void seek_to_first() noexcept { position_at_end(true); }
  void seek_to_last() noexcept { position_at_end(false); }

  /// Moves to the first key >= `target`.
  void seek(key_view target) noexcept;

  /// Moves to the first key >= `target` among those that start with target's first `scope` bytes, and keeps
  /// the cursor inside them: it becomes invalid after the last one, and its look-ahead never reads beyond
  /// them (a prefix or range scan otherwise spends DRAM bandwidth on the nodes after its end).
  /// REQUIRES: scope <= target.size(). Forward only: prev() leaves the scope.
  void seek_within(key_view target, std::size_t scope) noexcept;

  /// seek_within(start, the bytes start and end share), and the look-ahead also stops before the subtrees
  /// that lie wholly at or after `end`, whose bytes must outlive the scan. The cursor may still show keys
  /// >= end (up to the end of the shared bytes' subtree): the caller compares each key with `end`.
  void seek_range(key_view start, key_view end) noexcept;

  /// Moves to the last key <= `target`.
  void seek_for_prev(key_view target) noexcept {
    seek(target);
    if (!valid()) {
      seek_to_last();
    } else if (!equal(key(), target)) {
      prev();
    }
  }

  /// REQUIRES: valid().
  void next() noexcept {
    if (!forward_ && !start_forward()) {
      step(main_, true);  // no memory for the scout: walk without it
      leaf_ = main_.leaf;
      return;
    }
    if (ring_count_ == 0) {
      leaf_ = {};
      return;
    }
    leaf_ = ring_[ring_head_];
    ring_head_ = (ring_head_ + 1) % ring_size;
    --ring_count_;
    if (scouting_) advance_scout();
  }

  /// REQUIRES: valid().
  void prev() noexcept {
    if (forward_) {
      seek(key());  // rebuild the stack at the current leaf (a plain seek: no scope, no end)
    } else {
      // A step back may leave the scope's subtree; the frames the scope named are not the stack's any more.
      scope_floor_ = 0;
      for (frame& f : main_.stack) f.bounded = false;
    }
    step(main_, false);
    leaf_ = main_.leaf;
  }

 private:
  // Leaves the scout runs ahead: enough misses in flight to cover DRAM latency.
  static constexpr unsigned ring_size = 16;
  // Inner siblings the scout keeps in flight at each level: a node with few leaves is walked in less time
  // than one DRAM miss, so the next node's block must be requested several nodes early.
  static constexpr int sibling_distance = 8;
  // A position after every child of every kind: next_pos from it answers npos at once.
  static constexpr int last_position = 255;
  // A scout_frame's end_child when no child continues the end's path: no position equals it.
  static constexpr int no_child = -2;

  /// An inner node on main_'s path and the position (node_ops.hpp) of the child taken there.
  struct frame {
    node_ref node;
    int pos;
    // After seek_range: the key bytes above this node's children, and whether they equal the end's first
    // `depth` bytes (then children whose byte is above the end's there hold only keys after the end).
    std::uint32_t depth;
    bool bounded;
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

  /// An inner node on the scout's path. The scout only moves forward, and four kinds keep their children in
  /// one array in key order (n4, n16, n32, and an n256's dense slots), so it steps through that array by
  /// index: a step is an increment and a load, where a position (node_ops.hpp) costs a presence-map scan
  /// and a rank for every child of an n256. A bounded frame's end becomes an index limit, found once per
  /// node. An n48, whose children are in insertion order behind its byte index, steps by position.
  struct scout_frame {
    node_ref node;
    const node_ref* children;  // the array in key order; nullptr for an n48
    int at;                    // an index into children, or an n48's position; -1 (terminal_pos): the terminal
    int limit;                 // `at` values from here on are past the end: children's count when none is
    int count;                 // children's count (an n48: 256, its positions' bound)
    int end_child;             // the `at` of the child under the end's byte, or no_child
    int ahead;                 // the last `at` whose inner child was requested
    int lead;                  // an n48's: positions requested beyond `at`
    std::uint32_t depth;       // as frame's
    bool bounded;
  };

  /// seek(target), then the scope of seek_within: false when no key in it is >= target (then invalid).
  bool place_in_scope(key_view target, std::size_t scope) noexcept;

  void position_at_end(bool first) noexcept {
    forward_ = false;
    scope_floor_ = 0;
    main_.reset();
    if (!root_.is_empty()) descend(main_, root_, first);
    leaf_ = main_.leaf;
  }

  void prefetch_leaf(node_ref leaf) const noexcept {
    const std::byte* p = base_ + leaf.offset();
    prefetch(p);
    // A small leaf may straddle two lines. Its value length is in the header, not yet loaded, so ask for the
    // line holding the value's 16th byte: the whole of a typical small value, the head of a large one.
    prefetch(p + 8 + leaf.length() + 15);
  }

  static bool push(walk& w, node_ref node, int pos) noexcept {
    try {
      w.stack.push_back({node, pos, 0, false});
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

  /// Moves `w` to the neighbouring leaf, or makes it empty past either end.
  void step(walk& w, bool forward) const noexcept {
    while (!w.stack.empty()) {
      frame& f = w.stack.back();
      const int pos = forward ? next_pos(base_, f.node, f.pos) : prev_pos(base_, f.node, f.pos);
      if (pos != npos) {
        f.pos = pos;
        descend(w, child_at(base_, f.node, pos), forward);
        return;
      }
      w.stack.pop_back();
    }
    w.leaf = {};
  }

  /// The scout's frame for inner node `r` at main_'s position `pos` (terminal_pos - 1: before its first
  /// child, the terminal included), with its end's limits when `bounded`.
  [[nodiscard]] scout_frame scout_frame_of(node_ref r, int pos, std::uint32_t depth, bool bounded) const noexcept {
    scout_frame f{r, nullptr, pos, 0, 0, no_child, 0, 0, depth, bounded};
    const int end = bounded ? end_byte(depth) : 255;
    const auto count = static_cast<int>(header_of(base_, r)->count());
    switch (r.kind()) {
      case node_kind::n48:
        f.count = 256;
        f.limit = end + 1;
        if (bounded) f.end_child = end;
        break;
      case node_kind::n256: {
        const auto* n = node_cast<node256>(base_, r);
        f.children = n->children;
        f.count = count;
        f.limit = end == 255 ? count : static_cast<int>(n256_rank(n, static_cast<unsigned>(end) + 1U));
        if (bounded && n256_has(n, static_cast<unsigned>(end))) f.end_child = f.limit - 1;
        if (pos >= 0) f.at = static_cast<int>(n256_rank(n, static_cast<unsigned>(pos)));
        break;
      }
      default: {  // n4, n16, n32: a position is already the index
        const std::uint8_t* keys = sorted_keys(base_, r);
        f.children = r.kind() == node_kind::n4    ? node_cast<node4>(base_, r)->children
                     : r.kind() == node_kind::n16 ? node_cast<node16>(base_, r)->children
                                                  : node_cast<node32>(base_, r)->children;
        f.count = count;
        f.limit = count;
        if (bounded) {
          int i = 0;
          while (i < count && keys[i] <= end) ++i;
          f.limit = i;
          if (i > 0 && keys[i - 1] == end) f.end_child = i - 1;
        }
        break;
      }
    }
    if (pos == terminal_pos - 1) {
      // The first child: the terminal when there is one.
      if (!terminal_of(base_, r).is_empty()) {
        f.at = terminal_pos;
      } else {
        f.at = f.children != nullptr ? 0 : next_pos(base_, r, terminal_pos);
      }
    }
    f.ahead = f.at;
    return f;
  }

  /// The child at the frame's `at`.
  [[nodiscard]] TESSEL_ALWAYS_INLINE node_ref child_of(const scout_frame& f) const noexcept {
    if (f.at == terminal_pos) return terminal_of(base_, f.node);
    return f.children != nullptr ? f.children[f.at] : child_at(base_, f.node, f.at);
  }

  /// Moves `f` to its next child and returns it; an empty reference when the node has no child left
  /// (`past_end` false) or the rest lie at or after the end (`past_end` true).
  TESSEL_ALWAYS_INLINE node_ref next_child(scout_frame& f, bool& past_end) const noexcept {
    const int at = f.children != nullptr ? f.at + 1 : next_pos(base_, f.node, f.at);
    if (at >= f.limit) {
      past_end = at < f.count;
      return {};
    }
    f.at = at;
    return f.children != nullptr ? f.children[at] : child_at(base_, f.node, at);
  }

  /// Requests the inner nodes among the next sibling_distance children after f.at that are not requested
  /// yet, whole up to a cap: a node's children can be anywhere in its block.
  void prefetch_siblings(scout_frame& f) const noexcept {
    if (f.children != nullptr) {
      const int to = std::min(f.at + sibling_distance, f.limit - 1);
      while (f.ahead < to) {
        const node_ref sibling = f.children[++f.ahead];
        if (sibling.is_inner()) prefetch_node(sibling);
      }
      return;
    }
    if (f.lead > 0) {
      --f.lead;
    } else {
      f.ahead = f.at;
    }
    while (f.lead < sibling_distance) {
      const int pos = next_pos(base_, f.node, f.ahead);
      if (pos >= f.limit) {
        // The node is exhausted (or the rest is past the end): stop looking until the walk leaves it,
        // instead of rescanning its tail on every step.
        f.ahead = last_position;
        f.lead = sibling_distance;
        break;
      }
      f.ahead = pos;
      ++f.lead;
      const node_ref sibling = child_at(base_, f.node, pos);
      if (sibling.is_inner()) prefetch_node(sibling);
    }
  }

  /// Requests an inner node's block, every line of it (a full n256 is 33 lines): its children can be
  /// anywhere in it, and a block that is not line-aligned spans one line more than its size suggests.
  TESSEL_ALWAYS_INLINE void prefetch_node(node_ref node) const noexcept {
    prefetch_span(base_ + node.offset(), inner_size(node.kind(), header_of(base_, node)));
  }

  /// Requests the part of a frame's node the scout may still read: an n256's slots from the frame's child
  /// to the end's byte (bounded) or the last child, and any other node whole. A range scan that crosses
  /// from one n256 into the next needs two or three of the upper node's 33 lines, not all of them.
  void prefetch_rest(const scout_frame& f) const noexcept {
    if (f.node.kind() != node_kind::n256 || f.at < 0) {
      prefetch_node(f.node);
      return;
    }
    if (f.limit > f.at) {
      prefetch_span(f.children + f.at, static_cast<std::size_t>(f.limit - f.at) * sizeof(node_ref));
    }
  }

  /// Pushes inner node `r`, whose children's byte is key byte `depth`, on the scout's stack at its first
  /// child; false when out of memory (the scout has stopped then).
  bool push_scout(node_ref r, std::size_t depth, bool bounded) noexcept {
    try {
      scout_.push_back(scout_frame_of(r, terminal_pos - 1, static_cast<std::uint32_t>(depth), bounded));
    } catch (...) {
      stop_scout();
      return false;
    }
    return true;
  }

  /// Moves the scout to the next leaf, keeping siblings in flight in every frame it moves in or pushes, and
  /// queues that leaf, prefetched, in the ring.
  void advance_scout() noexcept {
    while (scout_.size() > scope_floor_) {
      scout_frame& f = scout_.back();
      bool past_end = false;
      node_ref r = next_child(f, past_end);
      if (r.is_empty()) {
        if (past_end) break;
        scout_.pop_back();
        continue;
      }
      prefetch_siblings(f);
      bool bounded = f.at == f.end_child;
      std::size_t depth = f.depth + std::size_t{1};
      while (r.is_inner()) {
        if (bounded) {
          const prefix_order order = order_against_end(r, depth);
          if (order == prefix_order::above) return stop_scout();
          bounded = order == prefix_order::equal;
        }
        depth += r.length();
        if (bounded && depth >= end_.size()) return stop_scout();  // every key below starts with the end
        if (!push_scout(r, depth, bounded)) return;
        scout_frame& g = scout_.back();
        if (g.at >= g.limit) return stop_scout();  // its first child is past the end
        prefetch_siblings(g);
        bounded = g.at == g.end_child;
        ++depth;
        r = child_of(g);
      }
      prefetch_leaf(r);
      ring_[(ring_head_ + ring_count_) % ring_size] = r;
      ++ring_count_;
      return;
    }
    stop_scout();
  }

  /// Ends the scout: the ring drains and the cursor becomes invalid after its last leaf.
  void stop_scout() noexcept {
    if (scout_.size() > scope_floor_) scout_.resize(scope_floor_);
    scouting_ = false;
  }

  [[nodiscard]] std::uint8_t end_byte(std::size_t i) const noexcept { return static_cast<std::uint8_t>(end_[i]); }

  enum class prefix_order : std::uint8_t { below, equal, above, unknown };
  /// How inner node r's compressed prefix, which starts at key byte `depth`, orders against the end's bytes
  /// there. Bytes beyond the node's inline copy live in a leaf and are not read: unknown, which the scout
  /// treats like below (it reads ahead as if there were no end).
  [[nodiscard]] prefix_order order_against_end(node_ref r, std::size_t depth) const noexcept {
    const std::size_t plen = r.length();
    const std::size_t known = std::min(plen, prefix_capacity(r.kind()));
    const std::uint8_t* p = inline_prefix(base_, r);
    for (std::size_t i = 0; i < known; ++i) {
      if (depth + i >= end_.size()) return prefix_order::above;  // the end is a prefix of every key below
      if (p[i] != end_byte(depth + i)) return p[i] < end_byte(depth + i) ? prefix_order::below : prefix_order::above;
    }
    return known == plen ? prefix_order::equal : prefix_order::unknown;
  }

  /// Switches to forward iteration from the current position: the scout starts at main_ and fills the ring.
  bool start_forward() noexcept {
    try {
      scout_.clear();
      for (const frame& m : main_.stack) scout_.push_back(scout_frame_of(m.node, m.pos, m.depth, m.bounded));
    } catch (...) {
      return false;
    }
    // The seek read only the lines on its path: request the rest of each node on it now, or a scan that
    // starts in an n256 of 150 leaves waits for its 20 lines one at a time.
    for (std::size_t i = scope_floor_; i < scout_.size(); ++i) prefetch_rest(scout_[i]);
    scouting_ = !main_.leaf.is_empty();
    ring_head_ = 0;
    ring_count_ = 0;
    forward_ = true;
    if (scouting_) {
      while (ring_count_ < ring_size && scouting_) advance_scout();
    }
    return true;
  }
  std::byte* base_;
  node_ref root_;
  node_ref leaf_;
  walk main_;                       // the stack above leaf_ while !forward_
  std::vector<scout_frame> scout_;  // while forward_: the nodes above the newest leaf in the ring
  bool scouting_ = false;           // whether the scout has leaves left to find
  std::array<node_ref, ring_size> ring_{};
  unsigned ring_head_ = 0;
  unsigned ring_count_ = 0;
  bool forward_ = false;
  // The scout never moves the frames below this index: the nodes above the subtree a scoped seek chose.
  std::size_t scope_floor_ = 0;
  // seek_range's end: the caller's bytes, read for the bounded frames until the next seek.
  key_view end_{};
};

template <class Region>
void art_cursor<Region>::seek(key_view target) noexcept {
  forward_ = false;
  scope_floor_ = 0;
  main_.reset();
  std::byte* const base = base_;
  const auto* k = reinterpret_cast<const std::uint8_t*>(target.data());
  const std::size_t n = target.size();
  node_ref r = root_;
  std::size_t depth = 0;
  while (!r.is_empty()) {
    if (r.is_leaf()) {
      main_.leaf = r;
      if (compare(leaf_key(base, r), target) < 0) step(main_, true);
      leaf_ = main_.leaf;
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
        leaf_ = main_.leaf;
        return;
      }
      if (c < 0) break;  // every key below is smaller: continue after this subtree
      depth += plen;
    }
    if (depth == n) {
      descend(main_, r, true);  // the terminal equals target; any child is greater
      leaf_ = main_.leaf;
      return;
    }
    bool exact = false;
    const int pos = lower_bound_pos(base, r, k[depth], exact);
    if (pos == npos) break;
    if (!push(main_, r, pos)) {
      leaf_ = {};
      return;
    }
    if (!exact) {
      descend(main_, child_at(base, r, pos), true);
      leaf_ = main_.leaf;
      return;
    }
    r = child_at(base, r, pos);
    ++depth;
  }
  // Everything below the node where the walk stopped is smaller than target: the answer is the next leaf
  // after that subtree, i.e. the next position of the frames above it.
  main_.leaf = {};
  step(main_, true);
  leaf_ = main_.leaf;
}

template <class Region>
void art_cursor<Region>::seek_within(key_view target, std::size_t scope) noexcept {
  // A scan reads the entry found next: start the look-ahead now, so its requests are in flight meanwhile.
  if (place_in_scope(target, scope)) (void)start_forward();
}

template <class Region>
void art_cursor<Region>::seek_range(key_view start, key_view end) noexcept {
  if (!place_in_scope(start, shared_prefix_size(start, end))) return;
  end_ = end;
  // The seek's frames lie on the path of the key it found: a frame is bounded when that path, up to its
  // children's byte, is the start of the end.
  const key_view k = key();
  std::size_t depth = 0;
  for (frame& f : main_.stack) {
    const std::size_t path = depth + f.node.length();
    f.depth = static_cast<std::uint32_t>(path);
    f.bounded = path < end.size() && path <= k.size() && std::memcmp(k.data(), end.data(), path) == 0;
    depth = path + 1;
  }
  (void)start_forward();
}

template <class Region>
bool art_cursor<Region>::place_in_scope(key_view target, std::size_t scope) noexcept {
  seek(target);
  if (!valid()) return false;
  const key_view in_scope = target.first(scope);
  if (!starts_with(key(), in_scope)) {
    leaf_ = {};  // no key in the scope is >= target
    return false;
  }
  // Every key in the scope lies below the highest node on the path whose own path (the bytes above it and
  // its compressed prefix) is at least `scope` long; the nodes above it are not the scan's to move.
  std::size_t depth = 0;
  std::size_t floor = 0;
  for (; floor < main_.stack.size(); ++floor) {
    const std::size_t path = depth + main_.stack[floor].node.length();
    if (path >= scope) break;
    depth = path + 1;
  }
  scope_floor_ = floor;
  return true;
}

}  // namespace tessel::index
