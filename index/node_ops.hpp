// Operations on one inner node, dispatched on its kind: find a child, add and remove children, walk children
// in key order. Growing, shrinking and copy-on-write are the tree's business (art.hpp); these functions only
// touch the node they are given.
//
// Positions: n4/n16/n32 number children by their index in the sorted key array; n48/n256 by key byte. The
// terminal leaf sits at position terminal_pos, before every child. npos means "none".
//
// Thread safety: const functions only read; the others need the node to be private to the writer.
#pragma once

#include <cstdint>
#include <cstring>

#include <emmintrin.h>

#include "common/platform.hpp"
#include "index/node_layout.hpp"

namespace tessel::index {

inline constexpr int terminal_pos = -1;
inline constexpr int npos = 0x7FFF;

template <class Node>
TESSEL_ALWAYS_INLINE Node* node_cast(std::byte* base, node_ref r) noexcept {
  return block_cast<Node>(base + r.offset());
}

TESSEL_ALWAYS_INLINE node_header* header_of(std::byte* base, node_ref r) noexcept {
  return block_cast<node_header>(base + r.offset());
}

/// The node's inline prefix bytes (the first prefix_capacity(kind) bytes of its compressed path).
TESSEL_ALWAYS_INLINE std::uint8_t* inline_prefix(std::byte* base, node_ref r) noexcept {
  std::byte* p = base + r.offset();
  return reinterpret_cast<std::uint8_t*>(
      p + (r.kind() == node_kind::n4 ? offsetof(node4, prefix) : offsetof(node16, prefix)));
}

/// The node's terminal leaf, or empty.
TESSEL_ALWAYS_INLINE node_ref terminal_of(std::byte* base, node_ref r) noexcept {
  if (r.kind() == node_kind::n4) {
    const node4* n = node_cast<node4>(base, r);
    return n->header.count() <= node4::terminal_slot ? n->children[node4::terminal_slot] : node_ref{};
  }
  return *block_cast<node_ref>(base + r.offset() + offsetof(node16, terminal));
}

/// Where the node's terminal is stored. REQUIRES: for an n4, at most three byte-keyed children.
TESSEL_ALWAYS_INLINE node_ref* terminal_slot(std::byte* base, node_ref r) noexcept {
  if (r.kind() == node_kind::n4) return &node_cast<node4>(base, r)->children[node4::terminal_slot];
  return block_cast<node_ref>(base + r.offset() + offsetof(node16, terminal));
}

/// Index of `b` among the first `count` sorted keys of an n16, or -1. One SSE compare.
TESSEL_ALWAYS_INLINE int n16_index(const node16* n, unsigned count, std::uint8_t b) noexcept {
  const __m128i keys = _mm_loadu_si128(static_cast<const __m128i*>(static_cast<const void*>(n->keys)));
  const __m128i hits = _mm_cmpeq_epi8(keys, _mm_set1_epi8(static_cast<char>(b)));
  const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hits)) & ((1U << count) - 1U);
  return mask == 0 ? -1 : __builtin_ctz(mask);
}

/// Index of `b` among the first `count` sorted keys of an n32, or -1. Two SSE compares.
TESSEL_ALWAYS_INLINE int n32_index(const node32* n, unsigned count, std::uint8_t b) noexcept {
  const __m128i needle = _mm_set1_epi8(static_cast<char>(b));
  const auto* keys = static_cast<const __m128i*>(static_cast<const void*>(n->keys));
  const auto lo = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(keys), needle)));
  const auto hi = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(keys + 1), needle)));
  const std::uint64_t mask = (lo | (std::uint64_t{hi} << 16)) & ((std::uint64_t{1} << count) - 1U);
  return mask == 0 ? -1 : __builtin_ctzll(mask);
}

TESSEL_ALWAYS_INLINE bool n256_has(const node256* n, unsigned b) noexcept {
  return ((n->present[b >> 6] >> (b & 63)) & 1U) != 0;
}

/// The slot of byte `b` in an n256: how many present bytes are below it.
TESSEL_ALWAYS_INLINE unsigned n256_rank(const node256* n, unsigned b) noexcept {
  const unsigned word = b >> 6;
  const std::uint64_t below = (std::uint64_t{1} << (b & 63)) - 1U;
  auto rank = static_cast<unsigned>(__builtin_popcountll(n->present[word] & below));
  for (unsigned i = 0; i < word; ++i) rank += static_cast<unsigned>(__builtin_popcountll(n->present[i]));
  return rank;
}

/// The child under key byte `b`, or an empty reference. Hot path: no branches beyond the kind switch.
TESSEL_ALWAYS_INLINE node_ref find_child(std::byte* base, node_ref r, std::uint8_t b) noexcept {
  switch (r.kind()) {
    case node_kind::n4: {
      const node4* n = node_cast<node4>(base, r);
      const unsigned count = n->header.count();
      for (unsigned i = 0; i < count; ++i) {
        if (n->keys[i] == b) return n->children[i];
      }
      return {};
    }
    case node_kind::n16: {
      const node16* n = node_cast<node16>(base, r);
      const int i = n16_index(n, n->header.count(), b);
      return i < 0 ? node_ref{} : n->children[i];
    }
    case node_kind::n32: {
      const node32* n = node_cast<node32>(base, r);
      const int i = n32_index(n, n->header.count(), b);
      return i < 0 ? node_ref{} : n->children[i];
    }
    case node_kind::n48: {
      const node48* n = node_cast<node48>(base, r);
      const unsigned slot = n->index[b];
      return slot == 0 ? node_ref{} : n->children[slot - 1];
    }
    case node_kind::n256: {
      const node256* n = node_cast<node256>(base, r);
      return n256_has(n, b) ? n->children[n256_rank(n, b)] : node_ref{};
    }
    default: return {};
  }
}

/// Where the child under `b` is stored, or nullptr. REQUIRES: r is an inner node.
inline node_ref* find_child_slot(std::byte* base, node_ref r, std::uint8_t b) noexcept {
  switch (r.kind()) {
    case node_kind::n4: {
      node4* n = node_cast<node4>(base, r);
      for (unsigned i = 0; i < n->header.count(); ++i) {
        if (n->keys[i] == b) return &n->children[i];
      }
      return nullptr;
    }
    case node_kind::n16: {
      node16* n = node_cast<node16>(base, r);
      const int i = n16_index(n, n->header.count(), b);
      return i < 0 ? nullptr : &n->children[i];
    }
    case node_kind::n32: {
      node32* n = node_cast<node32>(base, r);
      const int i = n32_index(n, n->header.count(), b);
      return i < 0 ? nullptr : &n->children[i];
    }
    case node_kind::n48: {
      node48* n = node_cast<node48>(base, r);
      const unsigned slot = n->index[b];
      return slot == 0 ? nullptr : &n->children[slot - 1];
    }
    case node_kind::n256: {
      node256* n = node_cast<node256>(base, r);
      return n256_has(n, b) ? &n->children[n256_rank(n, b)] : nullptr;
    }
    default: return nullptr;
  }
}

/// True when adding a child needs a new block: the kind is at capacity, or an n256 has used its slots.
[[nodiscard]] inline bool is_full(std::byte* base, node_ref r) noexcept {
  const node_header* h = header_of(base, r);
  switch (r.kind()) {
    case node_kind::n4:
      return h->count() == node4::capacity || (h->count() == node4::terminal_slot && !terminal_of(base, r).is_empty());
    case node_kind::n16: return h->count() == node16::capacity;
    case node_kind::n32: return h->count() == node32::capacity;
    case node_kind::n48: return h->count() == node48::capacity;
    default: return h->count() == h->slot_groups() * node256::slot_group;
  }
}

[[nodiscard]] inline unsigned capacity_of(node_kind kind) noexcept {
  switch (kind) {
    case node_kind::n4: return node4::capacity;
    case node_kind::n16: return node16::capacity;
    case node_kind::n32: return node32::capacity;
    case node_kind::n48: return node48::capacity;
    default: return node256::capacity;
  }
}

template <class Node>
inline void sorted_insert(Node* n, std::uint8_t b, node_ref child) noexcept {
  const unsigned count = n->header.count();
  unsigned i = 0;
  while (i < count && n->keys[i] < b) ++i;
  std::memmove(n->keys + i + 1, n->keys + i, count - i);
  std::memmove(n->children + i + 1, n->children + i, (count - i) * sizeof(node_ref));
  n->keys[i] = b;
  n->children[i] = child;
  n->header.set_count(count + 1);
}

template <class Node>
inline void sorted_remove(Node* n, std::uint8_t b) noexcept {
  const unsigned count = n->header.count();
  unsigned i = 0;
  while (i < count && n->keys[i] != b) ++i;
  std::memmove(n->keys + i, n->keys + i + 1, count - i - 1);
  std::memmove(n->children + i, n->children + i + 1, (count - i - 1) * sizeof(node_ref));
  n->keys[count - 1] = 0;
  n->children[count - 1] = {};
  n->header.set_count(count - 1);
}

/// REQUIRES: the node has room and no child under `b`.
inline void add_child(std::byte* base, node_ref r, std::uint8_t b, node_ref child) noexcept {
  switch (r.kind()) {
    case node_kind::n4: sorted_insert(node_cast<node4>(base, r), b, child); break;
    case node_kind::n16: sorted_insert(node_cast<node16>(base, r), b, child); break;
    case node_kind::n32: sorted_insert(node_cast<node32>(base, r), b, child); break;
    case node_kind::n48: {
      node48* n = node_cast<node48>(base, r);
      unsigned slot = 0;
      while (!n->children[slot].is_empty()) ++slot;
      n->children[slot] = child;
      n->index[b] = static_cast<std::uint8_t>(slot + 1);
      n->header.set_count(n->header.count() + 1);
      break;
    }
    case node_kind::n256: {
      node256* n = node_cast<node256>(base, r);
      const unsigned count = n->header.count();
      const unsigned slot = n256_rank(n, b);
      std::memmove(n->children + slot + 1, n->children + slot, (count - slot) * sizeof(node_ref));
      n->children[slot] = child;
      n->present[b >> 6] |= std::uint64_t{1} << (b & 63);
      n->header.set_count(count + 1);
      break;
    }
    default: break;
  }
}

/// REQUIRES: a child under `b` exists.
inline void remove_child(std::byte* base, node_ref r, std::uint8_t b) noexcept {
  switch (r.kind()) {
    case node_kind::n4: sorted_remove(node_cast<node4>(base, r), b); break;
    case node_kind::n16: sorted_remove(node_cast<node16>(base, r), b); break;
    case node_kind::n32: sorted_remove(node_cast<node32>(base, r), b); break;
    case node_kind::n48: {
      node48* n = node_cast<node48>(base, r);
      n->children[n->index[b] - 1] = {};
      n->index[b] = 0;
      n->header.set_count(n->header.count() - 1);
      break;
    }
    case node_kind::n256: {
      node256* n = node_cast<node256>(base, r);
      const unsigned count = n->header.count();
      const unsigned slot = n256_rank(n, b);
      std::memmove(n->children + slot, n->children + slot + 1, (count - slot - 1) * sizeof(node_ref));
      n->children[count - 1] = {};
      n->present[b >> 6] &= ~(std::uint64_t{1} << (b & 63));
      n->header.set_count(count - 1);
      break;
    }
    default: break;
  }
}

/// The key array of a sorted kind (n4, n16, n32).
[[nodiscard]] inline const std::uint8_t* sorted_keys(std::byte* base, node_ref r) noexcept {
  switch (r.kind()) {
    case node_kind::n4: return node_cast<node4>(base, r)->keys;
    case node_kind::n16: return node_cast<node16>(base, r)->keys;
    default: return node_cast<node32>(base, r)->keys;
  }
}

/// The key byte of the child at `pos`. REQUIRES: pos is a child position (not terminal_pos).
[[nodiscard]] inline std::uint8_t key_at(std::byte* base, node_ref r, int pos) noexcept {
  switch (r.kind()) {
    case node_kind::n4: return node_cast<node4>(base, r)->keys[pos];
    case node_kind::n16: return node_cast<node16>(base, r)->keys[pos];
    case node_kind::n32: return node_cast<node32>(base, r)->keys[pos];
    default: return static_cast<std::uint8_t>(pos);
  }
}

/// The child at `pos` (terminal_pos gives the terminal leaf).
[[nodiscard]] TESSEL_ALWAYS_INLINE node_ref child_at(std::byte* base, node_ref r, int pos) noexcept {
  if (pos == terminal_pos) return terminal_of(base, r);
  switch (r.kind()) {
    case node_kind::n4: return node_cast<node4>(base, r)->children[pos];
    case node_kind::n16: return node_cast<node16>(base, r)->children[pos];
    case node_kind::n32: return node_cast<node32>(base, r)->children[pos];
    case node_kind::n48: {
      const node48* n = node_cast<node48>(base, r);
      return n->children[n->index[pos] - 1];
    }
    default: {
      const node256* n = node_cast<node256>(base, r);
      return n->children[n256_rank(n, static_cast<unsigned>(pos))];
    }
  }
}

/// Bit i set when index[chunk + i] names a child: 16 index bytes compared at once.
TESSEL_ALWAYS_INLINE unsigned n48_present(const node48* n, int chunk) noexcept {
  const __m128i bytes = _mm_loadu_si128(static_cast<const __m128i*>(static_cast<const void*>(n->index + chunk)));
  const auto absent = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_setzero_si128())));
  return ~absent & 0xFFFFU;
}

/// First byte >= from with a child in an n48, or npos. Scans 16 index bytes per step, so walking an n48 in
/// order costs a few compares per child, not a mispredicted branch per byte.
[[nodiscard]] inline int n48_next(const node48* n, int from) noexcept {
  for (int chunk = from & ~15; chunk < 256; chunk += 16) {
    unsigned present = n48_present(n, chunk);
    if (chunk < from) present &= ~0U << (from - chunk);
    if (present != 0) return chunk + __builtin_ctz(present);
  }
  return npos;
}

/// Last byte <= from with a child in an n48, or npos.
[[nodiscard]] inline int n48_prev(const node48* n, int from) noexcept {
  for (int chunk = from & ~15; chunk >= 0; chunk -= 16) {
    unsigned present = n48_present(n, chunk);
    if (from - chunk < 15) present &= (2U << (from - chunk)) - 1U;
    if (present != 0) return chunk + 31 - __builtin_clz(present);
  }
  return npos;
}

/// The first child position after `pos` (pass terminal_pos - 1 to start before the terminal).
[[nodiscard]] inline int next_pos(std::byte* base, node_ref r, int pos) noexcept {
  if (pos < terminal_pos && !terminal_of(base, r).is_empty()) return terminal_pos;
  const int from = pos < 0 ? 0 : pos + 1;
  switch (r.kind()) {
    case node_kind::n4:
    case node_kind::n16:
    case node_kind::n32: return from < static_cast<int>(header_of(base, r)->count()) ? from : npos;
    case node_kind::n48: return from < 256 ? n48_next(node_cast<node48>(base, r), from) : npos;
    default: {
      const node256* n = node_cast<node256>(base, r);
      for (int word = from >> 6; word < 4; ++word) {
        std::uint64_t bits = n->present[word];
        if (word == from >> 6) bits &= ~std::uint64_t{0} << (from & 63);
        if (bits != 0) return word * 64 + __builtin_ctzll(bits);
      }
      return npos;
    }
  }
}

/// The last child position before `pos` (pass npos to start after the last child); terminal_pos counts.
[[nodiscard]] inline int prev_pos(std::byte* base, node_ref r, int pos) noexcept {
  if (pos == terminal_pos) return npos;
  int from = pos - 1;
  switch (r.kind()) {
    case node_kind::n4:
    case node_kind::n16:
    case node_kind::n32: {
      const int last = static_cast<int>(header_of(base, r)->count()) - 1;
      if (from > last) from = last;
      if (from >= 0) return from;
      break;
    }
    case node_kind::n48: {
      if (from >= 0) {
        if (const int b = n48_prev(node_cast<node48>(base, r), from > 255 ? 255 : from); b != npos) return b;
      }
      break;
    }
    default: {
      const node256* n = node_cast<node256>(base, r);
      if (from > 255) from = 255;
      for (int word = from >> 6; from >= 0 && word >= 0; --word) {
        std::uint64_t bits = n->present[word];
        // Keep bits 0..(from & 63) of the first word examined.
        if (word == from >> 6) bits &= ~std::uint64_t{0} >> (63 - (from & 63));
        if (bits != 0) return word * 64 + 63 - __builtin_clzll(bits);
      }
      break;
    }
  }
  return terminal_of(base, r).is_empty() ? npos : terminal_pos;
}

/// The first byte-child position whose key byte is >= b, or npos; `exact` tells whether it equals b.
[[nodiscard]] inline int lower_bound_pos(std::byte* base, node_ref r, std::uint8_t b, bool& exact) noexcept {
  exact = false;
  switch (r.kind()) {
    case node_kind::n4:
    case node_kind::n16:
    case node_kind::n32: {
      const std::uint8_t* keys = sorted_keys(base, r);
      const int count = static_cast<int>(header_of(base, r)->count());
      for (int i = 0; i < count; ++i) {
        if (keys[i] >= b) {
          exact = keys[i] == b;
          return i;
        }
      }
      return npos;
    }
    default: {
      const int pos = next_pos(base, r, static_cast<int>(b) - 1 < 0 ? terminal_pos : static_cast<int>(b) - 1);
      // next_pos from -1 would be the first byte child; from terminal_pos - 1 it could be the terminal.
      if (pos == npos) return npos;
      exact = pos == b;
      return pos;
    }
  }
}

}  // namespace tessel::index
