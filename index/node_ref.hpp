// node_ref: the 64-bit reference that links the tree's nodes. See docs/format.md §References.
//
//   bits  0..2   kind (empty, leaf, n4, n16, n32, n48, n256)
//   bits  3..47  byte offset of the block inside its region (blocks are 8-byte aligned, so the low three
//                bits of the offset are always zero and carry the kind instead)
//   bits 48..63  a length the parent knows so the child need not store it: for a leaf, its key's length;
//                for an inner node, the length of its compressed path (prefix)
//
// Offsets, never pointers, so the same tree lives in DRAM, in a file mapped at any address, or in a pmem
// pool; translation is one AND and one ADD. Thread safety: a value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessel::index {

/// Inner kinds are numbered in order of capacity: growing a node is kind + 1.
enum class node_kind : std::uint8_t { empty = 0, leaf = 1, n4 = 2, n16 = 3, n32 = 4, n48 = 5, n256 = 6 };

class node_ref {
 public:
  static constexpr std::uint64_t kind_mask = 0x7;
  static constexpr std::uint64_t offset_mask = 0x0000'FFFF'FFFF'FFF8ULL;
  static constexpr unsigned length_shift = 48;
  static constexpr std::uint64_t max_offset = offset_mask;
  static constexpr std::size_t max_length = 0xFFFF;

  constexpr node_ref() noexcept = default;
  /// REQUIRES: offset is 8-byte aligned and <= max_offset; length <= max_length.
  static constexpr node_ref make(node_kind kind, std::uint64_t offset, std::size_t length) noexcept {
    return node_ref(offset | static_cast<std::uint64_t>(kind) | (std::uint64_t{length} << length_shift));
  }

  /// The stored form, for formats that persist a reference (a meta slot's root), and back.
  [[nodiscard]] constexpr std::uint64_t bits() const noexcept { return raw_; }
  [[nodiscard]] static constexpr node_ref from_bits(std::uint64_t raw) noexcept { return node_ref(raw); }

  [[nodiscard]] constexpr node_kind kind() const noexcept { return static_cast<node_kind>(raw_ & kind_mask); }
  [[nodiscard]] constexpr std::uint64_t offset() const noexcept { return raw_ & offset_mask; }
  [[nodiscard]] constexpr std::size_t length() const noexcept { return raw_ >> length_shift; }
  [[nodiscard]] constexpr bool is_empty() const noexcept { return raw_ == 0; }
  [[nodiscard]] constexpr bool is_leaf() const noexcept { return kind() == node_kind::leaf; }
  [[nodiscard]] constexpr bool is_inner() const noexcept { return kind() > node_kind::leaf; }
  /// The same block and kind with another length (a prefix that grew or shrank).
  [[nodiscard]] constexpr node_ref with_length(std::size_t length) const noexcept {
    return node_ref((raw_ & ~(~0ULL << length_shift)) | (std::uint64_t{length} << length_shift));
  }
  explicit constexpr operator bool() const noexcept { return raw_ != 0; }
  friend constexpr bool operator==(node_ref a, node_ref b) noexcept = default;

 private:
  explicit constexpr node_ref(std::uint64_t raw) noexcept : raw_(raw) {}
  std::uint64_t raw_ = 0;
};

static_assert(sizeof(node_ref) == 8);

}  // namespace tessel::index
