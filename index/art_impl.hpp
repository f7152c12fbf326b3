// Definitions of art<Region>'s members; included at the end of art.hpp only.
// Every write path allocates everything it needs before it changes the tree, so a failed allocation leaves
// the tree as it was (copies made on the way down are equal to what they replaced).
#pragma once

#include <cstring>

#include "index/art.hpp"

namespace tessel::index {

/// The bytes of a leaf's value a point lookup asks for together with its head: a kv entry's 24-byte header
/// and a value of up to 24 bytes. (With 32, a kv leaf of a 16-byte value -- 91 bytes on path keys -- ended
/// on an unrequested third line for 3 leaves in 8: versioned get p50 716 vs 756 ns, alternating binaries.)
inline constexpr std::size_t leaf_value_head_bytes = 48;

template <region Region>
TESSEL_ALWAYS_INLINE std::optional<value_view> art<Region>::find_in(node_ref r, key_view key) const noexcept {
  std::byte* const base = region_.base();
  const std::uint8_t* k = bytes_of(key);
  const std::size_t n = key.size();
  std::size_t depth = 0;
  while (r.is_inner()) {
    if (const std::size_t plen = r.length(); plen != 0) {
      if (n - depth < plen) return std::nullopt;
      // Pessimistic for the inline bytes, optimistic beyond: the leaf's full key settles it.
      const std::size_t check = plen < prefix_capacity(r.kind()) ? plen : prefix_capacity(r.kind());
      const std::uint8_t* p = inline_prefix(base, r);
      for (std::size_t i = 0; i < check; ++i) {
        if (p[i] != k[depth + i]) return std::nullopt;
      }
      depth += plen;
    }
    if (depth == n) {
      r = terminal_of(base, r);
      break;
    }
    r = find_child(base, r, k[depth]);
    ++depth;
  }
  if (!r.is_leaf() || r.length() != n) return std::nullopt;
  const std::byte* leaf = leaf_at(base, r);
  // Most leaves straddle two lines (an 8-aligned 59-byte block crosses a boundary nine times in ten): ask
  // for the lines of the value's head together with the header's, so the misses overlap instead of the
  // caller's read of the value waiting for another one. Past a short value's end, the second request costs
  // bandwidth, not latency.
  prefetch(leaf + 8 + n);
  prefetch(leaf + 8 + n + leaf_value_head_bytes - 1);
  const std::byte* stored = leaf_layout::key(leaf);
  if (n != 0 && std::memcmp(stored, key.data(), n) != 0) return std::nullopt;
  return value_view(stored + n, leaf_layout::value_size(leaf));
}

template <region Region>
std::size_t art<Region>::prefix_match(node_ref r, std::size_t depth, key_view key) const noexcept {
  std::byte* const base = region_.base();
  const std::uint8_t* k = bytes_of(key) + depth;
  const std::size_t plen = r.length();
  const std::size_t limit = std::min(plen, key.size() - depth);
  const std::size_t inline_limit = std::min(limit, prefix_capacity(r.kind()));
  const std::uint8_t* p = inline_prefix(base, r);
  std::size_t i = 0;
  for (; i < inline_limit; ++i) {
    if (p[i] != k[i]) return i;
  }
  if (i == limit) return limit;
  const std::uint8_t* full = full_prefix(base, r, depth);
  for (; i < limit; ++i) {
    if (full[i] != k[i]) return i;
  }
  return limit;
}

template <region Region>
node_ref art<Region>::new_leaf(key_view key, value_view value, placement where) noexcept {
  const std::size_t size = leaf_layout::block_size(key.size(), value.size());
  const std::uint64_t offset = allocate_block(size, where);
  if (offset == 0) return {};
  leaf_layout::write(region_.base() + offset, epoch_, key.data(), key.size(), value.data(), value.size());
  leaf_bytes_ += size;
  return node_ref::make(node_kind::leaf, offset, key.size());
}

template <region Region>
node_ref art<Region>::new_inner(node_kind kind, std::size_t prefix_length, unsigned n256_slots,
                                placement where) noexcept {
  node_header sizing{};
  sizing.set_slot_groups(node256::slots_for(n256_slots) / node256::slot_group);
  const std::size_t size = inner_size(kind, &sizing);
  const std::uint64_t offset = allocate_block(size, where);
  if (offset == 0) return {};
  std::byte* p = region_.base() + offset;
  std::memset(p, 0, size);
  node_header* h = block_cast<node_header>(p);
  h->set_epoch(epoch_);
  if (kind == node_kind::n256) h->set_slot_groups(sizing.slot_groups());
  return node_ref::make(kind, offset, prefix_length);
}

template <region Region>
node_ref art<Region>::make_mutable(node_ref* slot) noexcept {
  const node_ref r = *slot;
  std::byte* const base = region_.base();
  if (header_of(base, r)->epoch() == epoch_) return r;
  const std::size_t size = inner_size(r.kind(), header_of(base, r));
  const std::uint64_t offset = region_.allocate(size);
  if (offset == 0) return {};
  std::memcpy(base + offset, base + r.offset(), size);
  const node_ref copy = node_ref::make(r.kind(), offset, r.length());
  header_of(base, copy)->set_epoch(epoch_);
  *slot = copy;
  retire(r);
  return copy;
}

template <region Region>
void art<Region>::retire(node_ref r) noexcept {
  std::byte* const base = region_.base();
  if (r.is_leaf()) leaf_bytes_ -= block_size(base, r);
  const std::uint64_t birth = birth_epoch(base, r);
  if (birth == epoch_) {
    region_.deallocate(r.offset(), block_size(base, r));
    return;
  }
  try {
    retired_.push_back({r, birth, epoch_});
  } catch (...) {
    // Without room to remember it the block leaks; it is never freed while a frozen root may read it.
  }
}

template <region Region>
void art<Region>::place_leaf(node_ref node, std::size_t depth, node_ref leaf, key_view leaf_key) noexcept {
  std::byte* const base = region_.base();
  if (leaf_key.size() == depth) {
    *terminal_slot(base, node) = leaf;
  } else {
    add_child(base, node, bytes_of(leaf_key)[depth], leaf);
  }
}

template <region Region>
void art<Region>::write_prefix(node_ref node, const std::uint8_t* bytes, std::size_t length) noexcept {
  const std::size_t n = std::min(length, prefix_capacity(node.kind()));
  if (n != 0) std::memmove(inline_prefix(region_.base(), node), bytes, n);
}

template <region Region>
node_ref art<Region>::resized(node_ref r, node_kind kind, std::size_t node_depth, unsigned n256_slots) noexcept {
  std::byte* const base = region_.base();
  const node_ref to = new_inner(kind, r.length(), n256_slots);
  if (to.is_empty()) return {};
  // The terminal first: an n4 keeps it in a slot that its first three children never reach.
  *terminal_slot(base, to) = terminal_of(base, r);
  write_prefix(to, full_prefix(base, r, node_depth), r.length());
  // Walking the source in key order and appending keeps sorted kinds sorted.
  for (int pos = next_pos(base, r, terminal_pos); pos != npos; pos = next_pos(base, r, pos)) {
    add_child(base, to, key_at(base, r, pos), child_at(base, r, pos));
  }
  return to;
}

template <region Region>
typename art<Region>::descent art<Region>::descend(key_view key) noexcept {
  std::byte* const base = region_.base();
  const std::uint8_t* k = bytes_of(key);
  const std::size_t n = key.size();
  node_ref* slot = &root_;
  std::size_t depth = 0;
  node_ref* last = &root_;  // the last inner node entered, at key offset last_depth
  std::size_t last_depth = 0;
  bool owned_above_last = true;
  bool owned = true;
  bool in_terminal = false;
  // The deepest node whose prefix bytes beyond its inline ones were taken on trust, and where they end.
  node_ref trusted;
  std::size_t trusted_end = 0;
  while (slot->is_inner()) {
    const node_ref r = *slot;
    last = slot;
    last_depth = depth;
    owned_above_last = owned;
    owned = owned && header_of(base, r)->epoch() == epoch_;
    if (const std::size_t plen = r.length(); plen != 0) {
      if (n - depth < plen) break;
      const std::size_t check = std::min(plen, prefix_capacity(r.kind()));
      const std::uint8_t* p = inline_prefix(base, r);
      std::size_t i = 0;
      while (i < check && p[i] == k[depth + i]) ++i;
      if (i < check) break;
      depth += plen;
      if (plen > check) {
        trusted = r;
        trusted_end = depth;
      }
    }
    if (depth == n) {
      slot = terminal_slot(base, r);
      in_terminal = true;
      break;
    }
    slot = find_child_slot(base, r, k[depth]);
    if (slot == nullptr) break;
    ++depth;
  }
  const bool at_leaf = slot != nullptr && slot->is_leaf();
  if (at_leaf && equal(leaf_key(base, *slot), key)) return {slot, depth, n, true, owned};
  // Absent. The pessimistic walk takes over where this one ended once the bytes taken on trust are known
  // to match: a leaf below the deepest node holding them has them all -- the leaf this walk reached, which
  // the write reads anyway, else that node's leftmost, the last of the leaves the pessimistic walk from
  // the root would have read. A leaf that agrees with the key up to some byte lies on the key's path up to
  // there, so its agreement is known agreement with the tree.
  std::size_t verified = last_depth;
  if (!trusted.is_empty()) {
    const std::size_t agreed = shared_prefix_size(leaf_key(base, at_leaf ? *slot : min_leaf(base, trusted)), key);
    if (agreed < trusted_end) return {&root_, 0, agreed};
    verified = std::max(agreed, last_depth);
  }
  if (at_leaf && !in_terminal && owned) return {slot, depth, verified};  // split the leaf of another key
  if (!owned_above_last) return {&root_, 0, verified};
  return {last, last_depth, verified};
}

template <region Region>
result<upsert_result> art<Region>::upsert(key_view key, value_view value) noexcept {
  // A leaf find_for_update() found, nothing having changed since: no walk when the value fits in place. That
  // changes no other leaf, so the others stay remembered; any other write forgets them.
  if (const node_ref known = remembered_leaf(key); !known.is_empty() && overwrite_value(known, key, value)) {
    return upsert_result::replaced;
  }
  forget_leaves();
  // One optimistic walk, like find's: a present key's leaf is replaced without the pessimistic walk's
  // reads of long prefixes from a leaf elsewhere below (a cache miss per such node); an absent key's
  // walk resumes at the node where it ended.
  const descent d = descend(key);
  if (d.found && d.owned) return replace_leaf(d.slot, key, value);
  if (d.found) return upsert_walk(&root_, 0, d.verified, key, value);
  return upsert_walk(d.slot, d.depth, d.verified, key, value);
}

template <region Region>
result<upsert_result> art<Region>::upsert_walk(node_ref* slot, std::size_t depth, std::size_t verified, key_view key,
                                               value_view value) noexcept {
  std::byte* const base = region_.base();
  const std::uint8_t* k = bytes_of(key);
  for (;;) {
    const node_ref r = *slot;
    if (r.is_empty()) {
      const node_ref leaf = new_leaf(key, value);
      if (leaf.is_empty()) return allocation_error();
      *slot = leaf;
      ++size_;
      return upsert_result::inserted;
    }
    if (r.is_leaf()) {
      if (equal(leaf_key(base, r), key)) return replace_leaf(slot, key, value);
      return split_leaf(slot, depth, key, value);
    }
    const std::size_t node_depth = depth;
    if (const std::size_t plen = r.length(); plen != 0) {
      if (depth + plen > verified) {
        const std::size_t matched = prefix_match(r, depth, key);
        if (matched < plen) return split_prefix(slot, depth, matched, key, value);
      }
      depth += plen;
    }
    if (depth == key.size()) {
      if (terminal_of(base, r).is_empty()) return add_entry(slot, node_depth, terminal_pos, key, value);
      const node_ref m = make_mutable(slot);
      if (m.is_empty()) return allocation_error();
      slot = terminal_slot(base, m);
      continue;  // the terminal's key is this key: replace it
    }
    const std::uint8_t b = k[depth];
    if (find_child_slot(base, r, b) == nullptr) return add_entry(slot, node_depth, b, key, value);
    const node_ref m = make_mutable(slot);
    if (m.is_empty()) return allocation_error();
    slot = find_child_slot(base, m, b);
    ++depth;
  }
}

template <region Region>
result<upsert_result> art<Region>::replace_leaf(node_ref* slot, key_view key, value_view value) noexcept {
  const node_ref old = *slot;
  if (overwrite_value(old, key, value)) return upsert_result::replaced;
  const node_ref leaf = new_leaf(key, value);
  if (leaf.is_empty()) return allocation_error();
  *slot = leaf;
  retire(old);
  return upsert_result::replaced;
}

template <region Region>
result<upsert_result> art<Region>::split_leaf(node_ref* slot, std::size_t depth, key_view key,
                                              value_view value) noexcept {
  std::byte* const base = region_.base();
  const node_ref old = *slot;
  const key_view old_key = leaf_key(base, old);
  const std::uint8_t* a = bytes_of(old_key);
  const std::uint8_t* k = bytes_of(key);
  const std::size_t limit = std::min(old_key.size(), key.size());
  std::size_t split = depth;
  while (split < limit && a[split] == k[split]) ++split;

  const node_ref leaf = new_leaf(key, value);
  if (leaf.is_empty()) return allocation_error();
  const node_ref node = new_inner(node_kind::n4, split - depth, 0);
  if (node.is_empty()) {
    retire(leaf);
    return allocation_error();
  }
  write_prefix(node, k + depth, split - depth);
  place_leaf(node, split, old, old_key);
  place_leaf(node, split, leaf, key);
  *slot = node;
  ++size_;
  return upsert_result::inserted;
}

template <region Region>
result<upsert_result> art<Region>::split_prefix(node_ref* slot, std::size_t depth, std::size_t matched, key_view key,
                                                value_view value) noexcept {
  std::byte* const base = region_.base();
  const node_ref r = *slot;
  const std::size_t rest = r.length() - matched - 1;
  // Read what the shortened node keeps before anything is written: its inline bytes may be the source.
  const std::uint8_t* full = full_prefix(base, r, depth);
  const std::uint8_t branch_byte = full[matched];
  std::uint8_t tail[node16::prefix_capacity];
  std::memcpy(tail, full + matched + 1, std::min(rest, sizeof tail));

  const node_ref leaf = new_leaf(key, value);
  if (leaf.is_empty()) return allocation_error();
  const node_ref parent = new_inner(node_kind::n4, matched, 0);
  if (parent.is_empty()) {
    retire(leaf);
    return allocation_error();
  }
  node_ref child = r;
  if (header_of(base, r)->epoch() != epoch_) {
    child = make_mutable(&child);  // copies r and retires it
    if (child.is_empty()) {
      retire(parent);
      retire(leaf);
      return allocation_error();
    }
  }
  child = child.with_length(rest);
  write_prefix(child, tail, rest);
  write_prefix(parent, bytes_of(key) + depth, matched);
  add_child(base, parent, branch_byte, child);
  place_leaf(parent, depth + matched, leaf, key);
  *slot = parent;
  ++size_;
  return upsert_result::inserted;
}

template <region Region>
result<upsert_result> art<Region>::add_entry(node_ref* slot, std::size_t node_depth, int byte, key_view key,
                                             value_view value) noexcept {
  std::byte* const base = region_.base();
  const node_ref r = *slot;
  const unsigned count = header_of(base, r)->count();
  const node_ref leaf = new_leaf(key, value);
  if (leaf.is_empty()) return allocation_error();
  // A node without room moves up one kind; an n256 grows its slots; a full n4 has no slot left for a terminal.
  const bool needs_room =
      byte == terminal_pos ? r.kind() == node_kind::n4 && count == node4::capacity : is_full(base, r);
  node_ref target;
  if (needs_room) {
    const node_kind bigger =
        r.kind() == node_kind::n256 ? node_kind::n256 : static_cast<node_kind>(static_cast<std::uint8_t>(r.kind()) + 1);
    target = resized(r, bigger, node_depth, count + 1);
    if (!target.is_empty()) {
      *slot = target;
      retire(r);
    }
  } else {
    target = make_mutable(slot);
  }
  if (target.is_empty()) {
    retire(leaf);
    return allocation_error();
  }
  if (byte == terminal_pos) {
    *terminal_slot(base, target) = leaf;
  } else {
    add_child(base, target, static_cast<std::uint8_t>(byte), leaf);
  }
  ++size_;
  return upsert_result::inserted;
}

template <region Region>
bool art<Region>::overwrite_value(node_ref leaf, key_view key, value_view value) noexcept {
  std::byte* p = region_.base() + leaf.offset();
  if (leaf_layout::epoch(p) != epoch_ || leaf_layout::value_size(p) != value.size()) return false;
  // Born in this epoch, so no frozen root can see it. memmove, because `value` may be this very leaf's value.
  if (!value.empty())
    std::memmove(const_cast<std::byte*>(leaf_layout::key(p)) + key.size(), value.data(), value.size());
  return true;
}

template <region Region>
result<bool> art<Region>::erase(key_view key) noexcept {
  forget_leaves();
  // Look first, so erasing a missing key copies nothing.
  if (!find_in(root_, key)) return false;
  if (root_.is_leaf()) {
    retire(root_);
    root_ = {};
    --size_;
    return true;
  }
  std::byte* const base = region_.base();
  node_ref* slot = &root_;
  std::size_t depth = 0;
  for (;;) {
    const std::size_t node_depth = depth;
    depth += slot->length();
    const node_ref m = make_mutable(slot);
    if (m.is_empty()) return allocation_error();
    int byte = terminal_pos;
    node_ref* child_slot = terminal_slot(base, m);
    if (depth != key.size()) {
      byte = bytes_of(key)[depth];
      child_slot = find_child_slot(base, m, static_cast<std::uint8_t>(byte));
      if (child_slot == nullptr) return false;  // unreachable: find_in saw the key on this path
    }
    if (child_slot->is_leaf()) return remove_leaf(slot, m, node_depth, byte, *child_slot);
    slot = child_slot;
    ++depth;
  }
}

template <region Region>
result<bool> art<Region>::remove_leaf(node_ref* slot, node_ref node, std::size_t node_depth, int byte,
                                      node_ref leaf) noexcept {
  std::byte* const base = region_.base();
  node_header* h = header_of(base, node);
  const unsigned entries = h->count() + (terminal_of(base, node).is_empty() ? 0U : 1U);
  if (entries == 2) {
    // One entry will be left: the node collapses into it (path compression).
    const auto is_removed = [&](int pos) {
      if (pos == terminal_pos) return byte == terminal_pos;
      return byte != terminal_pos && key_at(base, node, pos) == byte;
    };
    int keep = next_pos(base, node, terminal_pos - 1);
    if (is_removed(keep)) keep = next_pos(base, node, keep);
    const node_ref survivor = child_at(base, node, keep);
    if (survivor.is_leaf()) {
      *slot = survivor;
    } else {
      // Merge: survivor's new prefix = node's prefix + the byte that led to it + survivor's own prefix.
      const std::size_t plen = node.length();
      const std::uint8_t via = key_at(base, node, keep);
      std::uint8_t merged[node16::prefix_capacity];
      const std::size_t cap = sizeof merged;
      const std::uint8_t* node_prefix = full_prefix(base, node, node_depth);
      std::size_t n = std::min(plen, cap);
      std::memcpy(merged, node_prefix, n);
      if (n < cap) merged[n++] = via;
      if (n < cap) {
        const std::uint8_t* own = full_prefix(base, survivor, node_depth + plen + 1);
        const std::size_t more = std::min(survivor.length(), cap - n);
        std::memcpy(merged + n, own, more);
      }
      node_ref* survivor_slot = find_child_slot(base, node, via);
      const node_ref s = make_mutable(survivor_slot);
      if (s.is_empty()) return allocation_error();
      const std::size_t merged_length = plen + 1 + s.length();
      write_prefix(s, merged, merged_length);
      *slot = s.with_length(merged_length);
    }
    retire(node);
    retire(leaf);
    --size_;
    return true;
  }
  if (byte == terminal_pos) {
    *terminal_slot(base, node) = {};
  } else {
    remove_child(base, node, static_cast<std::uint8_t>(byte));
  }
  retire(leaf);
  --size_;
  const unsigned count = h->count();
  node_kind smaller = node_kind::empty;
  if (node.kind() == node_kind::n16 && count <= n16_shrink_at) smaller = node_kind::n4;
  if (node.kind() == node_kind::n32 && count <= n32_shrink_at) smaller = node_kind::n16;
  if (node.kind() == node_kind::n48 && count <= n48_shrink_at) smaller = node_kind::n32;
  if (node.kind() == node_kind::n256 && count <= n256_shrink_at) smaller = node_kind::n48;
  // An n256 with two groups of slots unused gives one back.
  if (node.kind() == node_kind::n256 && smaller == node_kind::empty &&
      count + 2 * node256::slot_group <= h->slot_groups() * node256::slot_group) {
    smaller = node_kind::n256;
  }
  if (smaller != node_kind::empty) {
    // A failed shrink leaves a valid, merely roomier node.
    if (const node_ref s = resized(node, smaller, node_depth, count + node256::slot_group); !s.is_empty()) {
      *slot = s;
      retire(node);
    }
  }
  return true;
}

template <region Region>
void art<Region>::clear() noexcept {
  forget_leaves();
  if (!root_.is_empty()) retire_subtree(root_);
  root_ = {};
  size_ = 0;
}

template <region Region>
void art<Region>::retire_subtree(node_ref r) noexcept {
  std::byte* const base = region_.base();
  std::vector<node_ref> pending;
  try {
    pending.push_back(r);
    while (!pending.empty()) {
      const node_ref at = pending.back();
      pending.pop_back();
      if (at.is_inner()) {
        for (int pos = next_pos(base, at, terminal_pos - 1); pos != npos; pos = next_pos(base, at, pos)) {
          pending.push_back(child_at(base, at, pos));
        }
      }
      retire(at);
    }
  } catch (...) {
    // Out of memory for the walk: what was not visited leaks.
  }
}

template <region Region>
result<void> art<Region>::restore(const frozen_root& at, std::size_t leaf_bytes) noexcept {
  if (slicing_) return make_error(errc::not_supported, "restoring a tree while a reclaim in slices is under way");
  forget_leaves();
  std::byte* const base = region_.base();
  try {
    // Which live blocks `at` shares. Normally by epoch: a live block born at or before at.epoch was live when
    // `at` was frozen, so `at` reaches it (and, a child never being younger than its parent, its whole
    // subtree). An earlier restore breaks that for roots frozen before it: it brought back blocks born long
    // ago that such a root may not reach. Then `at`'s blocks are listed first.
    std::unordered_set<std::uint64_t> in_at;
    const bool by_epoch = at.epoch >= last_restore_epoch_;
    if (!by_epoch) {
      std::vector<node_ref> pending;
      if (!at.root.is_empty()) pending.push_back(at.root);
      while (!pending.empty()) {
        const node_ref r = pending.back();
        pending.pop_back();
        in_at.insert(r.bits());
        if (!r.is_inner()) continue;
        for (int pos = next_pos(base, r, terminal_pos - 1); pos != npos; pos = next_pos(base, r, pos)) {
          pending.push_back(child_at(base, r, pos));
        }
      }
    }
    auto shared = [&](node_ref r) { return by_epoch ? birth_epoch(base, r) <= at.epoch : in_at.contains(r.bits()); };
    // What the live tree has and `at` has not, listed before anything changes (listing may fail).
    std::vector<node_ref> gone;
    if (!root_.is_empty() && !shared(root_)) gone.push_back(root_);
    for (std::size_t i = 0; i < gone.size(); ++i) {
      const node_ref r = gone[i];
      if (!r.is_inner()) continue;
      for (int pos = next_pos(base, r, terminal_pos - 1); pos != npos; pos = next_pos(base, r, pos)) {
        const node_ref child = child_at(base, r, pos);
        if (!shared(child)) gone.push_back(child);
      }
    }
    retired_.reserve(retired_.size() + gone.size());  // so that retire() below cannot fail to remember one
    for (const node_ref r : gone) retire(r);
    // `at`'s blocks that the live tree had replaced are retired; they are live again. By epoch they are the
    // entries with birth <= at.epoch < death (a block lived then iff `at` reaches it); when the live tree
    // replaces them again they are retired anew.
    std::erase_if(retired_, [&](const retired_block& b) {
      return by_epoch ? b.birth <= at.epoch && at.epoch < b.death : in_at.contains(b.ref.bits());
    });
  } catch (...) {
    return tl::unexpected(error(errc::no_memory, "restoring a frozen root"));  // nothing was changed
  }
  root_ = at.root;
  size_ = at.size;
  leaf_bytes_ = leaf_bytes;
  last_restore_epoch_ = epoch_;
  return {};
}

template <region Region>
void art<Region>::reclaim(std::span<const std::uint64_t> live_frozen_epochs) noexcept {
  if (slicing_) return;  // retired_ holds stale entries until the reclaim in slices ends; it catches up after
  std::vector<std::uint64_t> live;
  try {
    live.assign(live_frozen_epochs.begin(), live_frozen_epochs.end());
  } catch (...) {
    return;  // keep everything; try again later
  }
  std::sort(live.begin(), live.end());
  std::byte* const base = region_.base();
  auto keep = retired_.begin();
  for (const retired_block& block : retired_) {
    if (reachable(block, live)) {
      *keep++ = block;
    } else {
      region_.deallocate(block.ref.offset(), block_size(base, block.ref));
    }
  }
  retired_.erase(keep, retired_.end());
}

template <region Region>
bool art<Region>::begin_reclaim(std::span<const std::uint64_t> live_frozen_epochs) noexcept {
  try {
    slice_live_.assign(live_frozen_epochs.begin(), live_frozen_epochs.end());
  } catch (...) {
    return false;
  }
  std::sort(slice_live_.begin(), slice_live_.end());
  slicing_ = true;
  slice_kept_ = slice_next_ = 0;
  slice_end_ = retired_.size();
  return true;
}

template <region Region>
void art<Region>::next_slice_blocks(std::size_t max, std::vector<const std::byte*>& out) const noexcept {
  out.clear();
  const std::size_t end = std::min(slice_end_, slice_next_ + std::min(max, out.capacity()));
  for (std::size_t i = slice_next_; i < end; ++i) out.push_back(region_.base() + retired_[i].ref.offset());
}

template <region Region>
bool art<Region>::reclaim_slice(std::size_t max) noexcept {
  std::byte* const base = region_.base();
  const std::size_t end = std::min(slice_end_, slice_next_ + max);
  for (; slice_next_ < end; ++slice_next_) {
    const retired_block block = retired_[slice_next_];
    if (reachable(block, slice_live_)) {
      retired_[slice_kept_++] = block;
    } else {
      region_.deallocate(block.ref.offset(), block_size(base, block.ref));
    }
  }
  if (slice_next_ < slice_end_) return true;
  // What writes retired meanwhile follows the kept blocks: moving it down allocates nothing.
  retired_.erase(retired_.begin() + static_cast<std::ptrdiff_t>(slice_kept_),
                 retired_.begin() + static_cast<std::ptrdiff_t>(slice_end_));
  slicing_ = false;
  return false;
}

}  // namespace tessel::index
