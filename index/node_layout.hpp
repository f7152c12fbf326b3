// The byte layout of the tree's blocks: five inner-node kinds and the leaf. See docs/format.md §Nodes.
//
// Every inner node starts with the same 8-byte header, epoch_count: birth epoch (bits 16..63), slots
// allocated / 8 for n256 (bits 9..14), number of byte-keyed children (bits 0..8). Every node also has a
// terminal: the leaf whose key ends exactly at the node (after its prefix), or empty; this is how a key that
// is a prefix of another key (/a/b and /a/b/c) is stored without a terminator byte. Larger kinds keep it in
// a field after the header; an n4 keeps it in its last child slot, which is free because an n4 with a
// terminal holds at most three byte-keyed children (8 bytes saved on the most numerous node). Then come
// the first bytes of the node's compressed path (prefix; its full length is in the parent's reference)
// and the children. A prefix longer than the inline bytes is checked optimistically on the way down and
// verified against the leaf's full key, and read back from any leaf below the node when it is needed.
//
// A leaf is: a header word holding its birth epoch (high 48 bits) and its value length (low 16 bits, or
// 0xFFFF followed by a 64-bit length for values of 64 KiB and more), then the key, then the value.
// Its key length lives in the reference that points at it.
//
// Thread safety: plain data; see art.hpp for who may write what.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "index/node_ref.hpp"

namespace tessel::index {

inline constexpr unsigned epoch_shift = 16;

struct node_header {
  std::uint64_t epoch_count;

  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_count >> epoch_shift; }
  static constexpr std::uint64_t count_mask = 0x1FF;
  static constexpr unsigned groups_shift = 9;
  static constexpr std::uint64_t groups_mask = 0x3FULL << groups_shift;

  [[nodiscard]] unsigned count() const noexcept { return static_cast<unsigned>(epoch_count & count_mask); }
  void set_count(unsigned n) noexcept { epoch_count = (epoch_count & ~count_mask) | n; }
  /// n256 only: children slots allocated, in groups of 8.
  [[nodiscard]] unsigned slot_groups() const noexcept {
    return static_cast<unsigned>((epoch_count & groups_mask) >> groups_shift);
  }
  void set_slot_groups(unsigned g) noexcept {
    epoch_count = (epoch_count & ~groups_mask) | (std::uint64_t{g} << groups_shift);
  }
  void set_epoch(std::uint64_t e) noexcept { epoch_count = (e << epoch_shift) | (epoch_count & 0xFFFF); }
};

/// Up to 4 children, keys sorted; with a terminal, up to 3 and the terminal in children[3].
struct node4 {
  static constexpr node_kind kind = node_kind::n4;
  static constexpr unsigned capacity = 4;
  static constexpr std::size_t prefix_capacity = 4;
  static constexpr unsigned terminal_slot = 3;
  node_header header;
  std::uint8_t keys[4];
  std::uint8_t prefix[4];
  node_ref children[4];
};

/// Up to 16 children, keys sorted, searched with one SSE compare.
struct node16 {
  static constexpr node_kind kind = node_kind::n16;
  static constexpr unsigned capacity = 16;
  static constexpr std::size_t prefix_capacity = 8;
  node_header header;
  node_ref terminal;
  std::uint8_t prefix[8];
  std::uint8_t keys[16];
  node_ref children[16];
};

/// Up to 32 children, keys sorted, searched with two SSE compares. Not in the ART paper: with random keys
/// many nodes hold 17-30 children, and an n48 (664 bytes) for them cost about 7 bytes per key at 1M keys.
struct node32 {
  static constexpr node_kind kind = node_kind::n32;
  static constexpr unsigned capacity = 32;
  static constexpr std::size_t prefix_capacity = 8;
  node_header header;
  node_ref terminal;
  std::uint8_t prefix[8];
  std::uint8_t keys[32];
  node_ref children[32];
};

/// Up to 48 children: a 256-entry index from key byte to slot (0 = absent, else slot + 1).
struct node48 {
  static constexpr node_kind kind = node_kind::n48;
  static constexpr unsigned capacity = 48;
  static constexpr std::size_t prefix_capacity = 8;
  node_header header;
  node_ref terminal;
  std::uint8_t prefix[8];
  std::uint8_t index[256];
  node_ref children[48];
};

/// Up to 256 children: a 256-bit presence map, and the children stored densely in key order (a child's slot
/// is the number of present bytes below its own). Slots are allocated in groups of 8 as the node fills, not
/// 256 at once. *Why not the paper's 256 direct slots:* with 10M random keys the level holding ~150 children
/// per node cost 2 KiB per node, 13.6 bytes per key; dense storage halves it, for a popcount per lookup.
/// Only the first slot_groups() * 8 entries of `children` exist in the block.
struct node256 {
  static constexpr node_kind kind = node_kind::n256;
  static constexpr unsigned capacity = 256;
  static constexpr std::size_t prefix_capacity = 8;
  static constexpr unsigned slot_group = 8;
  node_header header;
  node_ref terminal;
  std::uint8_t prefix[8];
  std::uint64_t present[4];
  node_ref children[256];

  [[nodiscard]] static constexpr std::size_t size_for(unsigned slots) noexcept {
    return 56 + std::size_t{slots} * sizeof(node_ref);
  }
  /// Slots to allocate for `count` children: rounded up to a whole group.
  [[nodiscard]] static constexpr unsigned slots_for(unsigned count) noexcept {
    return (count + slot_group - 1) / slot_group * slot_group;
  }
};

static_assert(sizeof(node_header) == 8);
static_assert(sizeof(node4) == 48 && offsetof(node4, prefix) == 12 && offsetof(node4, children) == 16);
static_assert(offsetof(node16, terminal) == 8 && offsetof(node32, terminal) == 8 && offsetof(node48, terminal) == 8 &&
              offsetof(node256, terminal) == 8);
static_assert(sizeof(node16) == 168 && offsetof(node16, keys) == 24 && offsetof(node16, children) == 40);
static_assert(sizeof(node32) == 312 && offsetof(node32, keys) == 24 && offsetof(node32, children) == 56);
static_assert(sizeof(node48) == 664 && offsetof(node48, index) == 24 && offsetof(node48, children) == 280);
static_assert(offsetof(node256, present) == 24 && offsetof(node256, children) == 56);
static_assert(node256::size_for(256) == sizeof(node256));

/// Shrink thresholds: a node moves down one kind when its byte children drop to this many. Below the next
/// kind's capacity, so a node at the boundary does not flip back and forth on alternating insert/erase.
inline constexpr unsigned n16_shrink_at = 3;
inline constexpr unsigned n32_shrink_at = 12;
inline constexpr unsigned n48_shrink_at = 24;
inline constexpr unsigned n256_shrink_at = 37;

/// Bytes of an inner node's block; an n256's size depends on the slots it has allocated.
[[nodiscard]] inline std::size_t inner_size(node_kind kind, const node_header* h) noexcept {
  switch (kind) {
    case node_kind::n4: return sizeof(node4);
    case node_kind::n16: return sizeof(node16);
    case node_kind::n32: return sizeof(node32);
    case node_kind::n48: return sizeof(node48);
    case node_kind::n256: return node256::size_for(h->slot_groups() * node256::slot_group);
    default: return 0;
  }
}

[[nodiscard]] constexpr std::size_t prefix_capacity(node_kind kind) noexcept {
  return kind == node_kind::n4 ? node4::prefix_capacity : node16::prefix_capacity;
}

/// Reads and sizes a leaf block.
struct leaf_layout {
  static constexpr std::uint64_t long_value = 0xFFFF;

  [[nodiscard]] static constexpr std::size_t header_size(std::size_t value_size) noexcept {
    return value_size >= long_value ? 16 : 8;
  }
  [[nodiscard]] static constexpr std::size_t block_size(std::size_t key_size, std::size_t value_size) noexcept {
    return header_size(value_size) + key_size + value_size;
  }
  static void write(std::byte* p, std::uint64_t epoch, const std::byte* key, std::size_t key_size,
                    const std::byte* value, std::size_t value_size) noexcept {
    const std::uint64_t small = value_size >= long_value ? long_value : value_size;
    const std::uint64_t word = (epoch << epoch_shift) | small;
    std::memcpy(p, &word, 8);
    std::size_t at = 8;
    if (small == long_value) {
      const std::uint64_t n = value_size;
      std::memcpy(p + 8, &n, 8);
      at = 16;
    }
    if (key_size != 0) std::memcpy(p + at, key, key_size);
    if (value_size != 0) std::memcpy(p + at + key_size, value, value_size);
  }
  [[nodiscard]] static std::uint64_t word(const std::byte* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  [[nodiscard]] static std::uint64_t epoch(const std::byte* p) noexcept { return word(p) >> epoch_shift; }
  [[nodiscard]] static std::size_t value_size(const std::byte* p) noexcept {
    const std::uint64_t small = word(p) & 0xFFFF;
    if (small != long_value) return small;
    std::uint64_t n;
    std::memcpy(&n, p + 8, 8);
    return n;
  }
  [[nodiscard]] static const std::byte* key(const std::byte* p) noexcept {
    return p + ((word(p) & 0xFFFF) == long_value ? 16 : 8);
  }
};

}  // namespace tessel::index
