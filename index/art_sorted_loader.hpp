// art::sorted_loader: builds an empty tree bottom-up from keys given in strictly ascending order.
//
// *Why not an upsert per key:* with keys in order every upsert still walks from the root, and each inner
// node is born an n4 and copied into every larger kind as its children arrive (an n256 of 150 children is
// written five times). The loader knows, when the next key arrives, which nodes can get no further
// child: those deeper than the bytes the key shares with the one before it. Each of them is made once, of
// the kind its final count needs, with its children in order. Blocks are placed in ascending address
// order (at the region's frontier, or in its freed blocks once ordered), so leaves lie in key order and an
// ordered scan of a loaded (or compacted) tree reads memory forward.
//
// The shape is the one upserts of the same keys produce: a node exists exactly where two keys (or a key
// and its extensions) first differ, its prefix the bytes since its parent's branch, a key that ends at a
// node is its terminal, a lone key is a leaf below its branch (lazy expansion); and the kind is the
// smallest that holds the children (an n4 with a terminal holds three), as growth would leave it.
//
// Thread safety: as for the tree's writer; the tree must not be written while a loader is open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "index/art.hpp"

namespace tessel::index {

template <region Region>
class art<Region>::sorted_loader {
 public:
  /// REQUIRES: `tree` is empty and outlives the loader. `where`: frontier places every block past the
  /// region's freed ones; reuse lets the region choose (ascending when its free blocks are ordered).
  explicit sorted_loader(art& tree, placement where = placement::frontier) noexcept : tree_(tree), where_(where) {}
  sorted_loader(const sorted_loader&) = delete;
  sorted_loader& operator=(const sorted_loader&) = delete;
  /// Frees every block made so far unless finish() succeeded: the tree is left empty.
  ~sorted_loader() { abandon(); }

  /// Adds the next entry. Errors: invalid_argument when `key` is not after the previous key; the region's
  /// (no_space, no_memory), and no_memory for the loader's own bookkeeping. After an error the loader
  /// accepts nothing more; its blocks are freed by abandon() or the destructor.
  [[nodiscard]] result<void> add(key_view key, value_view value) noexcept {
    if (failed_) return make_error(errc::invalid_argument, "a sorted load that already failed takes no more entries");
    try {
      if (!pending_.is_empty()) {
        if (compare(as_bytes(std::string_view(previous_)), key) >= 0) {
          failed_ = true;
          return make_error(errc::invalid_argument, "sorted load: a key is not after the key before it");
        }
        const std::size_t shared = shared_prefix_size(as_bytes(std::string_view(previous_)), key);
        if (auto ok = close_deeper_than(static_cast<std::ptrdiff_t>(shared)); !ok) return fail(std::move(ok));
      }
      const node_ref leaf = tree_.new_leaf(key, value, where_);
      if (leaf.is_empty()) return fail(tree_.allocation_error());
      pending_ = leaf;
      previous_.assign(reinterpret_cast<const char*>(key.data()), key.size());
      ++count_;
      return {};
    } catch (...) {
      return fail(make_error(errc::no_memory, "sorted load bookkeeping"));
    }
  }

  /// Makes the remaining nodes and installs the root as the live tree. Errors: as add(); the tree stays
  /// empty.
  [[nodiscard]] result<void> finish() noexcept {
    if (failed_) return make_error(errc::invalid_argument, "finishing a sorted load that failed");
    if (pending_.is_empty()) return {};  // nothing was added
    try {
      if (auto ok = close_deeper_than(-1); !ok) return fail(std::move(ok));
    } catch (...) {
      return fail(make_error(errc::no_memory, "sorted load bookkeeping"));
    }
    tree_.forget_leaves();
    tree_.root_ = pending_;
    tree_.size_ = count_;
    pending_ = {};
    failed_ = true;  // done: nothing more to add or free
    return {};
  }

  /// Frees every block made so far (a no-op after finish()).
  void abandon() noexcept {
    if (!pending_.is_empty()) tree_.retire_subtree(pending_);
    for (const auto& [byte, child] : children_) tree_.retire_subtree(child);
    for (const level& l : levels_) {
      if (!l.terminal.is_empty()) tree_.retire_subtree(l.terminal);
    }
    pending_ = {};
    children_.clear();
    levels_.clear();
    failed_ = true;
  }

 private:
  /// A node still open to children: the key offset of its branch byte, where its children begin in
  /// children_, and its terminal.
  struct level {
    std::size_t depth;
    std::size_t first_child;
    node_ref terminal;
  };

  tl::unexpected<error> fail(result<void> why) noexcept {
    failed_ = true;
    return tl::unexpected(std::move(why.error()));
  }
  tl::unexpected<error> fail(tl::unexpected<error> why) noexcept {
    failed_ = true;
    return why;
  }

  /// Places pending_ (the newest leaf, or a node just made, holding the previous key) under `l`.
  void attach(level& l) {
    if (pending_.is_leaf() && pending_.length() == l.depth) {
      l.terminal = pending_;  // the previous key ends at this node
    } else {
      children_.emplace_back(static_cast<std::uint8_t>(previous_[l.depth]), pending_);
    }
    pending_ = {};
  }

  /// The previous and the next key share their first `shared` bytes (-1: there is no next key): every open
  /// node deeper than that is complete. Makes each, innermost first, and leaves the subtree that holds the
  /// previous key attached to the open node at depth `shared` (made open when missing), or in pending_
  /// (the root) when shared is -1.
  result<void> close_deeper_than(std::ptrdiff_t shared) {
    while (!levels_.empty() && static_cast<std::ptrdiff_t>(levels_.back().depth) > shared) {
      attach(levels_.back());
      // Its parent: the open node below it if that one is at `shared` or deeper, else the node about to be
      // opened at `shared` (or none: the root).
      std::ptrdiff_t parent = shared;
      if (levels_.size() >= 2)
        parent = std::max(parent, static_cast<std::ptrdiff_t>(levels_[levels_.size() - 2].depth));
      const node_ref node = make_node(levels_.back(), parent);
      if (node.is_empty()) return tree_.allocation_error();
      children_.resize(levels_.back().first_child);
      levels_.pop_back();
      pending_ = node;
    }
    if (shared < 0) return {};
    const auto depth = static_cast<std::size_t>(shared);
    if (levels_.empty() || levels_.back().depth < depth) levels_.push_back({depth, children_.size(), {}});
    attach(levels_.back());
    return {};
  }

  /// The node of open level `l`, whose parent branches at key offset `parent` (-1 for the root): its prefix
  /// is the previous key's bytes between the two. Empty when the region has no room; `l` is unchanged
  /// then, so abandon() frees its children.
  node_ref make_node(const level& l, std::ptrdiff_t parent) noexcept {
    const auto count = static_cast<unsigned>(children_.size() - l.first_child);
    const bool terminal = !l.terminal.is_empty();
    node_kind kind = node_kind::n256;
    if (count + (terminal ? 1U : 0U) <= node4::capacity) {
      kind = node_kind::n4;
    } else if (count <= node16::capacity) {
      kind = node_kind::n16;
    } else if (count <= node32::capacity) {
      kind = node_kind::n32;
    } else if (count <= node48::capacity) {
      kind = node_kind::n48;
    }
    const auto prefix_start = static_cast<std::size_t>(parent + 1);
    const std::size_t prefix_length = l.depth - prefix_start;
    const node_ref node = tree_.new_inner(kind, prefix_length, count, where_);
    if (node.is_empty()) return {};
    std::byte* const base = tree_.region_.base();
    // The terminal first: an n4 keeps it in a slot that its first three children never reach.
    *terminal_slot(base, node) = l.terminal;
    tree_.write_prefix(node, reinterpret_cast<const std::uint8_t*>(previous_.data()) + prefix_start, prefix_length);
    for (std::size_t i = l.first_child; i < children_.size(); ++i) {
      add_child(base, node, children_[i].first, children_[i].second);
    }
    return node;
  }

  art& tree_;
  placement where_;
  std::vector<level> levels_;                                // open nodes, outermost first, deepening
  std::vector<std::pair<std::uint8_t, node_ref>> children_;  // the open nodes' children, in key order
  node_ref pending_;                                         // the subtree holding the previous key, not yet placed
  std::string previous_;                                     // the previous key
  std::size_t count_ = 0;
  bool failed_ = false;
};

template <region Region>
result<void> art<Region>::compact(const std::function<void(std::size_t)>& progress) noexcept {
  if (root_.is_empty()) return {};
  // Where the copy goes: freed blocks that could hold it are reused lowest address first (after a first
  // compaction they are the previous copy, so the region stops growing); otherwise the frontier.
  placement where = placement::frontier;
  if constexpr (placing_region<Region>) {
    const region_usage u = region_.usage();
    if (u.free_bytes >= u.live_bytes) {
      region_.order_free_blocks();
      where = placement::reuse;
    }
  }
  // The loader builds into an empty tree; the old one stays whole, read through its root, until the new
  // one is complete.
  forget_leaves();
  const node_ref old_root = root_;
  const std::size_t old_size = size_;
  root_ = {};
  size_ = 0;
  auto rebuild = [&]() -> result<void> {
    sorted_loader loader(*this, where);  // on failure its destructor frees what it built
    art_cursor<Region> from(region_, old_root);
    std::size_t copied = 0;
    for (from.seek_to_first(); from.valid(); from.next()) {
      if (auto ok = loader.add(from.key(), from.value()); !ok) return ok;
      if ((++copied & 0xFFFFU) == 0 && progress) progress(copied);
    }
    return loader.finish();
  };
  if (auto ok = rebuild(); !ok) {
    root_ = old_root;
    size_ = old_size;
    return ok;
  }
  retire_subtree(old_root);
  return {};
}

}  // namespace tessel::index
