// The fixed pages at the start of a store's data file: the superblock and two meta slots. Every byte is in
// docs/format.md §Data file. All integers little endian; each page ends in a checksum64 of what precedes it.
//
// The superblock is written once, at creation. A commit writes the meta slot that does not hold the newest
// commit, so a torn meta write leaves the other slot -- the previous commit -- intact; open takes the valid
// slot with the larger generation.
//
// Thread safety: values and pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "tessel/error.hpp"

namespace tessel::mmap {

inline constexpr std::uint32_t format_version = 1;
inline constexpr std::size_t page_bytes = 4096;
inline constexpr std::uint64_t superblock_offset = 0;
inline constexpr std::array<std::uint64_t, 2> meta_offsets = {4096, 8192};
/// Tree blocks (each with its 8-byte block header) start here.
inline constexpr std::uint64_t first_block_offset = 12288;

using store_id = std::array<std::uint8_t, 16>;
using page = std::array<std::byte, page_bytes>;

/// Incompatible features: a reader that does not know a set bit must refuse the file.
enum incompat_feature : std::uint64_t {
  block_checksums = 1,  ///< every block has an 8-byte header {u32 size, u32 checksum32}
};
inline constexpr std::uint64_t known_incompat_features = block_checksums;

struct superblock {
  std::uint32_t version = format_version;
  std::uint64_t incompat_features = known_incompat_features;
  std::uint64_t compat_features = 0;
  std::uint32_t page_size = page_bytes;
  std::uint32_t block_header_bytes = 8;
  std::uint64_t first_block = first_block_offset;
  store_id id{};
  std::uint64_t created_unix_ns = 0;
};

enum meta_flag : std::uint64_t {
  clean_close = 1,  ///< written by close(): nothing was retired but not freed
};

/// One commit: the durable tree and where the operation log resumes.
struct meta_slot {
  std::uint64_t generation = 0;  ///< commit counter; the valid slot with the larger one is current
  std::uint64_t epoch = 0;       ///< the frozen epoch of `root`; every block under it is born at or before it
  std::uint64_t root = 0;        ///< node_ref bits of the root, 0 for an empty tree
  std::uint64_t key_count = 0;
  std::uint64_t leaf_bytes = 0;
  std::uint64_t at_seq = 0;           ///< every log record with seq <= at_seq is in this tree
  std::uint64_t frontier = 0;         ///< end of the blocks the allocator had handed out
  std::uint64_t allocated_bytes = 0;  ///< bytes the allocator counted in use: reachable + retired, not freed
  std::uint64_t flags = 0;            ///< meta_flag bits
  std::uint64_t committed_unix_ns = 0;
  /// Written by a clean close: the block listing every free extent (0: none; open then walks the tree).
  std::uint64_t free_table = 0;
  std::uint64_t free_table_bytes = 0;
};

[[nodiscard]] page encode_superblock(const superblock& s) noexcept;
/// Errors: corruption (not a tessel file, bad checksum, impossible layout), version_mismatch (newer format
/// or unknown incompatible feature).
[[nodiscard]] result<superblock> decode_superblock(std::span<const std::byte, page_bytes> bytes) noexcept;

[[nodiscard]] page encode_meta(const meta_slot& m) noexcept;
/// Errors: corruption naming the slot (`index`) and what is wrong (all zero = never written).
[[nodiscard]] result<meta_slot> decode_meta(std::span<const std::byte, page_bytes> bytes, int index) noexcept;

}  // namespace tessel::mmap
