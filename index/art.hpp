// art: an adaptive radix tree (Leis et al., ICDE 2013) over a Region, with copy-on-write by epoch.
//
// Shape: inner nodes n4/n16/n32/n48/n256 grow and shrink with their fan-out; compressed paths (prefixes) keep
// chains of single-child nodes out of the tree; lazy expansion stores a lone key as a leaf directly below
// the branch that distinguishes it. Keys are arbitrary bytes: a key that ends at an inner node is that node's
// terminal leaf, so no terminator byte is needed and 0x00 is an ordinary byte.
//
// The epoch rule (docs/design.md §Epochs): every block records the epoch it was born in. A block born in the
// current epoch is private to the writer and changed in place; a block born earlier may be reachable from a
// frozen root and is never written again: the writer copies it, and the path above it, first. freeze()
// turns the current root into an immutable version and opens the next epoch, so a frozen root stays
// unchanged and readable while writes go on. A replaced block is freed at once when it was born in the
// current epoch; otherwise it is retired with [birth, death) and freed by reclaim() once no live frozen
// root's epoch falls in that interval -- so a long-lived version pins only the blocks it can reach.
//
// Thread safety: one writer. Reads of the live root need the writer to be quiet; reads of a frozen root are
// safe from any thread while the writer works, until reclaim() is told that root is gone. find_for_update()
// is the writer's: it changes what the tree remembers.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"

#include "index/art_cursor.hpp"
#include "index/art_inspect.hpp"
#include "index/region.hpp"
#include "index/tree_access.hpp"

namespace tessel::index {

/// An immutable version of a tree: its root, the epoch it was frozen in, and its key count.
struct frozen_root {
  node_ref root;
  std::uint64_t epoch = 0;
  std::size_t size = 0;
};

enum class upsert_result : std::uint8_t { inserted, replaced };

/// A block in the region that the live tree does not reach but older frozen roots may: reachable from a
/// frozen root f only when its birth <= f < death.
struct unreached_block {
  node_ref ref;
  std::uint64_t death = 0;
};

template <region Region>
class art {
 public:
  explicit art(Region& region) noexcept : region_(region) {}
  art(const art&) = delete;
  art& operator=(const art&) = delete;
  /// Blocks belong to the region; destroying the tree frees nothing (clear() does).
  ~art() = default;

  [[nodiscard]] Region& region() const noexcept { return region_; }

  // ---- Reads ----

  /// The value stored under `key` in the live tree. Hot path: no allocation, lock or virtual call.
  [[nodiscard]] std::optional<value_view> find(key_view key) const noexcept { return find_in(root_, key); }
  [[nodiscard]] std::optional<value_view> find(const frozen_root& at, key_view key) const noexcept {
    return find_in(at.root, key);
  }
  /// find(key) for the tree's writer when it is about to write `key` (a read-modify-write: a version check,
  /// a compare-and-set, a transaction's reads): the tree remembers the leaf found, with the three found
  /// before it, and an upsert of one of those keys with a value of the same size, the leaf born in this
  /// epoch, overwrites the value in place without walking again. Any other change of the live tree forgets
  /// them all (freeze and reclaim change none of it).
  [[nodiscard]] std::optional<value_view> find_for_update(key_view key) noexcept {
    const std::optional<value_view> v = find_in(root_, key);
    if (v) {
      const std::byte* leaf = v->data() - key.size() - leaf_layout::header_size(v->size());
      remembered_[remembered_next_++ % remembered_.size()] =
          node_ref::make(node_kind::leaf, static_cast<std::uint64_t>(leaf - region_.base()), key.size());
    }
    return v;
  }
  /// Whether a leaf find_for_update() found is still remembered (tests: every change must forget them; a
  /// freed block's stale bytes could otherwise pass for a leaf).
  [[nodiscard]] bool remembers_leaf() const noexcept {
    return std::any_of(remembered_.begin(), remembered_.end(), [](node_ref r) { return !r.is_empty(); });
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Bytes of the leaves (headers, keys, values) the live tree holds.
  [[nodiscard]] std::size_t leaf_bytes() const noexcept { return leaf_bytes_; }
  [[nodiscard]] node_ref root() const noexcept { return root_; }
  [[nodiscard]] art_cursor<Region> cursor() const noexcept { return art_cursor<Region>(region_, root_); }
  [[nodiscard]] art_cursor<Region> cursor(const frozen_root& at) const noexcept {
    return art_cursor<Region>(region_, at.root);
  }

  // ---- Writes ----

  /// Stores `value` under `key`. Errors: the region's (no_space, no_memory); the tree is then unchanged.
  /// `key` and `value` may point into this tree (a value read by find): they are copied before anything
  /// they point at is freed.
  [[nodiscard]] result<upsert_result> upsert(key_view key, value_view value) noexcept;
  /// Removes `key`; false when absent. Errors: the region's, when a copy-on-write copy cannot be made.
  [[nodiscard]] result<bool> erase(key_view key) noexcept;
  /// Removes every key (retiring what frozen roots may still reach).
  void clear() noexcept;
  /// Fills an empty tree from keys in strictly ascending order, bottom-up (index/art_sorted_loader.hpp).
  class sorted_loader;
  /// Rebuilds the tree through a sorted_loader from its own entries: the same contents, each node of the
  /// smallest kind for its children, and blocks allocated in ascending address order, so an ordered walk
  /// reads memory forward (random inserts leave leaves wherever the allocator had room). The copy goes
  /// into the region's freed blocks, lowest first, when they could hold it -- so compacting again and again
  /// does not grow the region -- else at its frontier. Needs room for the second copy while it runs; the
  /// old blocks are retired after. Errors: the region's (no_space, no_memory) and no_memory for the
  /// loader's bookkeeping: the tree is unchanged then. `progress`, when set, hears the entries copied so
  /// far every 65,536.
  [[nodiscard]] result<void> compact(const std::function<void(std::size_t)>& progress = {}) noexcept;

  // ---- Epochs ----

  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
  /// Freezes the live root and opens the next epoch. O(1).
  /// The leaves find_for_update() remembered stay: one frozen now is never overwritten in place (its epoch
  /// is no longer the writer's; overwrite_value checks), and this must not touch them -- a store's
  /// checkpointer freezes under the store's mutex while a sharded store's transaction reads for update
  /// under its shard's lock alone (docs/design.md §Checkpoints).
  [[nodiscard]] frozen_root freeze() noexcept {
    const frozen_root f{root_, epoch_, size_};
    ++epoch_;
    return f;
  }
  /// Makes `at` -- a tree already in the region, e.g. a durable root found at open -- the live tree, with
  /// `leaf_bytes` its leaves' bytes. The next epoch is at.epoch + 1, so every block under it is immutable.
  /// REQUIRES: the live tree is empty and nothing is retired (a fresh tree).
  void adopt(const frozen_root& at, std::size_t leaf_bytes) noexcept {
    forget_leaves();
    root_ = at.root;
    size_ = at.size;
    leaf_bytes_ = leaf_bytes;
    epoch_ = at.epoch + 1;
  }
  /// Puts `blocks` on the retired list, so reclaim() frees them once no frozen root can reach them: what
  /// open does for blocks that frozen roots of an earlier process (named snapshots) keep. REQUIRES: the
  /// live tree does not reach them; each is listed once. Errors: no_memory, with nothing changed.
  [[nodiscard]] result<void> adopt_retired(std::span<const unreached_block> blocks) noexcept {
    forget_leaves();
    try {
      retired_.reserve(retired_.size() + blocks.size());
    } catch (...) {
      return tl::unexpected(error(errc::no_memory, "listing the blocks only frozen roots reach"));
    }
    for (const unreached_block& b : blocks) {
      retired_.push_back({b.ref, birth_epoch(region_.base(), b.ref), b.death});
    }
    return {};
  }
  /// Opens an epoch after `newest_frozen`, the newest frozen root an earlier process left (a named
  /// snapshot), so no block of it counts as the writer's own. Such roots restore by the slow path: the
  /// retired list of this process does not hold their history.
  void open_epoch_after(std::uint64_t newest_frozen) noexcept {
    forget_leaves();
    epoch_ = std::max(epoch_, newest_frozen + 1);
    last_restore_epoch_ = epoch_;
  }
  /// Makes the frozen root `at` (with `leaf_bytes` its leaves' bytes) the live tree again: the live blocks
  /// `at` does not reach are retired (other frozen roots may), and `at`'s blocks that were retired are live
  /// again; writes then copy them before changing them, so `at` itself stays unchanged. O(blocks written
  /// since `at` + retired blocks) when `at` was frozen after the last restore; O(size of `at`) otherwise.
  /// Errors: no_memory, with nothing changed. REQUIRES: `at` was frozen from this tree and reclaim() has kept its
  /// blocks.
  [[nodiscard]] result<void> restore(const frozen_root& at, std::size_t leaf_bytes) noexcept;
  /// Frees every retired block that no frozen root with an epoch in `live_frozen_epochs` can reach. Leaves
  /// the remembered leaves alone, as freeze() does: they are in the live tree, and only a change retires
  /// a live block -- every change forgets them first.
  void reclaim(std::span<const std::uint64_t> live_frozen_epochs) noexcept;
  [[nodiscard]] std::size_t retired_count() const noexcept { return retired_.size(); }

  // A reclaim in slices, so that the writer can go on between them (a store's checkpointer frees a
  // commit's garbage this way: docs/design.md §Checkpoints). It looks at the blocks retired when it began;
  // writes may retire more meanwhile. Until it ends, reclaim() does nothing and restore() must not run.

  /// Starts a reclaim in slices, with reclaim()'s meaning of `live_frozen_epochs`. False (nothing started)
  /// out of memory. REQUIRES: none under way.
  [[nodiscard]] bool begin_reclaim(std::span<const std::uint64_t> live_frozen_epochs) noexcept;
  /// Replaces `out` with the addresses of the blocks the next reclaim_slice(max) looks at: retired, so
  /// nothing writes them, and another thread may read them (to bring their lines into its cache) while
  /// the writer goes on. Stops short when `out` would have to grow past its capacity.
  void next_slice_blocks(std::size_t max, std::vector<const std::byte*>& out) const noexcept;
  /// Frees the next up-to-`max` blocks no live epoch reaches and keeps the rest retired. True while
  /// blocks remain; false once the reclaim has ended.
  [[nodiscard]] bool reclaim_slice(std::size_t max) noexcept;
  /// Whether a reclaim in slices is under way.
  [[nodiscard]] bool reclaiming_in_slices() const noexcept { return slicing_; }

  // ---- Introspection ----

  [[nodiscard]] tree_stats stats() const noexcept { return inspect_stats(region_.base(), root_); }
  [[nodiscard]] result<void> verify() const noexcept { return inspect_verify(region_.base(), root_, size_); }
  [[nodiscard]] result<void> verify(const frozen_root& at) const noexcept {
    return inspect_verify(region_.base(), at.root, at.size);
  }

 private:
  struct retired_block {
    node_ref ref;
    std::uint64_t birth;
    std::uint64_t death;
  };
  /// Whether a frozen root of one of the `sorted_live` epochs reaches `block`: one of epoch f does exactly
  /// when birth <= f < death.
  [[nodiscard]] static bool reachable(const retired_block& block, std::span<const std::uint64_t> sorted_live) noexcept {
    const auto it = std::lower_bound(sorted_live.begin(), sorted_live.end(), block.birth);
    return it != sorted_live.end() && *it < block.death;
  }

  [[nodiscard]] static const std::uint8_t* bytes_of(key_view k) noexcept {
    return reinterpret_cast<const std::uint8_t*>(k.data());
  }
  [[nodiscard]] tl::unexpected<error> allocation_error() const noexcept {
    try {
      return tl::unexpected(region_.last_error());
    } catch (...) {
      return tl::unexpected(error(errc::no_memory));
    }
  }

  [[nodiscard]] std::optional<value_view> find_in(node_ref r, key_view key) const noexcept;
  [[nodiscard]] std::size_t prefix_match(node_ref r, std::size_t depth, key_view key) const noexcept;

  /// Where upsert's optimistic walk for `key` ended: at its leaf (`found`; `owned` when every node on the
  /// path was born in this epoch, so the leaf's slot may be written in place), or at the node where the
  /// pessimistic walk resumes (`slot`, at key offset `depth`): every node above it was born in this epoch
  /// and matches the key over all of its prefix, and the key's first `verified` bytes are known to be
  /// those of the tree's path.
  struct descent {
    node_ref* slot = nullptr;
    std::size_t depth = 0;
    std::size_t verified = 0;
    bool found = false;
    bool owned = false;
  };
  [[nodiscard]] descent descend(key_view key) noexcept;
  /// upsert's pessimistic walk from the node in *slot at key offset `depth`, copying nodes born before this
  /// epoch on the way down. A node whose prefix ends within the first `verified` bytes of the key is not
  /// compared again: beyond its inline bytes, a prefix is read from a leaf below, a cache miss of its own.
  [[nodiscard]] result<upsert_result> upsert_walk(node_ref* slot, std::size_t depth, std::size_t verified, key_view key,
                                                  value_view value) noexcept;

  /// Where a new block goes. reuse: the region's own choice, a freed block first (every write; a compaction
  /// after order_free_blocks(), which makes that choice ascending). frontier: past every freed block, so
  /// blocks made one after another lie in address order (the sorted loader). A region that is not a
  /// placing_region places every block itself.
  enum class placement : std::uint8_t { reuse, frontier };
  [[nodiscard]] std::uint64_t allocate_block(std::size_t size, placement where) noexcept {
    if constexpr (placing_region<Region>) {
      if (where == placement::frontier) return region_.allocate_at_frontier(size);
    }
    return region_.allocate(size);
  }
  [[nodiscard]] node_ref new_leaf(key_view key, value_view value, placement where = placement::reuse) noexcept;
  /// A zeroed inner node born in this epoch; `n256_slots` sizes an n256 (rounded up to a group of 8).
  [[nodiscard]] node_ref new_inner(node_kind kind, std::size_t prefix_length, unsigned n256_slots,
                                   placement where = placement::reuse) noexcept;
  /// The node in *slot, copied first when it was born before this epoch; empty when the copy fails.
  [[nodiscard]] node_ref make_mutable(node_ref* slot) noexcept;
  /// Frees a block born in this epoch, retires any other.
  void retire(node_ref r) noexcept;
  /// retire() of `r` and every block below it.
  void retire_subtree(node_ref r) noexcept;
  void place_leaf(node_ref node, std::size_t depth, node_ref leaf, key_view leaf_key) noexcept;
  void write_prefix(node_ref node, const std::uint8_t* bytes, std::size_t length) noexcept;
  /// A copy of `r` as `kind` (one larger or smaller, or an n256 with `n256_slots` slots), born in this
  /// epoch; empty when allocation fails.
  [[nodiscard]] node_ref resized(node_ref r, node_kind kind, std::size_t node_depth, unsigned n256_slots) noexcept;

  [[nodiscard]] result<upsert_result> replace_leaf(node_ref* slot, key_view key, value_view value) noexcept;
  /// Overwrites `leaf`'s value with `value` where the leaf itself can change: it was born in this epoch (no
  /// frozen root reaches it) and the value keeps its size. False, changing nothing, otherwise.
  [[nodiscard]] bool overwrite_value(node_ref leaf, key_view key, value_view value) noexcept;
  /// The remembered leaf of `key`, or empty.
  [[nodiscard]] node_ref remembered_leaf(key_view key) const noexcept {
    for (const node_ref r : remembered_) {
      if (!r.is_empty() && r.length() == key.size() && equal(leaf_key(region_.base(), r), key)) return r;
    }
    return {};
  }
  void forget_leaves() noexcept { remembered_.fill(node_ref{}); }
  [[nodiscard]] result<upsert_result> split_leaf(node_ref* slot, std::size_t depth, key_view key,
                                                 value_view value) noexcept;
  [[nodiscard]] result<upsert_result> split_prefix(node_ref* slot, std::size_t depth, std::size_t matched, key_view key,
                                                   value_view value) noexcept;
  /// Adds a new leaf under key byte `byte` of the node in *slot, or as its terminal (terminal_pos).
  [[nodiscard]] result<upsert_result> add_entry(node_ref* slot, std::size_t node_depth, int byte, key_view key,
                                                value_view value) noexcept;
  [[nodiscard]] result<bool> remove_leaf(node_ref* slot, node_ref node, std::size_t node_depth, int byte,
                                         node_ref leaf) noexcept;

  Region& region_;
  node_ref root_;
  std::size_t size_ = 0;
  std::size_t leaf_bytes_ = 0;
  std::uint64_t epoch_ = 1;
  std::uint64_t last_restore_epoch_ = 0;  // epoch_ at the last restore(): older frozen roots need the slow path
  // The leaves find_for_update() found, newest at remembered_next_ - 1, until the next change (empty: none).
  // Four: the reads of a transaction of up to four keys on one tree all stay remembered for its writes.
  std::array<node_ref, 4> remembered_{};
  std::uint32_t remembered_next_ = 0;
  std::vector<retired_block> retired_;
  // The reclaim in slices under way: retired_[0, slice_end_) are the blocks it looks at, of which
  // [0, slice_kept_) are kept, [slice_kept_, slice_next_) stale, [slice_next_, slice_end_) not yet seen.
  bool slicing_ = false;
  std::vector<std::uint64_t> slice_live_;  // sorted
  std::size_t slice_kept_ = 0;
  std::size_t slice_next_ = 0;
  std::size_t slice_end_ = 0;
};

}  // namespace tessel::index

#include "index/art_impl.hpp"           // IWYU pragma: keep
#include "index/art_sorted_loader.hpp"  // IWYU pragma: keep
