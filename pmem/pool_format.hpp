// The root object of a pmem store's pool: the pmem backend's superblock and meta slot in one, 128 bytes.
// Every byte is in docs/format.md §Pool. Native byte order (a pool is tied to its host's architecture
// anyway: libpmemobj records it in the pool header and refuses a foreign one).
//
// A commit changes the fields after `incompat_features` together, with the checksum, in one
// pmemobj_publish (pool_region::publish), so the root object is always one whole commit: there is no
// second slot to fall back to, because libpmemobj's redo log makes the swing atomic.
//
// Thread safety: values and pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tessel/error.hpp"

namespace tessel::pmem {

/// The layout name libpmemobj stores in the pool header and checks at open.
inline constexpr const char* pool_layout = "tessel";
inline constexpr std::uint32_t pool_format_version = 1;
inline constexpr std::array<char, 8> pool_magic = {'T', 'E', 'S', 'S', 'P', 'O', 'O', 'L'};

/// Incompatible features: a reader that does not know a set bit refuses the pool.
enum pool_feature : std::uint32_t {
  pool_block_checksums = 1,  ///< every tree block has an 8-byte header {u32 size, u32 checksum32}
  /// The log area may hold batch records (oplog::op_kind::batch). A pool made before them lacks the bit;
  /// its batches are made durable by a commit instead of a record, so builds without it can still open it.
  pool_batch_records = 2,
};
inline constexpr std::uint32_t known_pool_features = pool_block_checksums | pool_batch_records;

enum pool_flag : std::uint64_t {
  pool_clean_close = 1,  ///< set by close(); a writable open clears it before writing anything
};

/// What one commit publishes.
struct pool_meta {
  std::uint64_t generation = 0;  ///< commit counter
  std::uint64_t root = 0;        ///< node_ref bits of the tree's root, 0 for an empty tree
  std::uint64_t epoch = 0;       ///< the frozen epoch of `root`
  std::uint64_t key_count = 0;
  std::uint64_t leaf_bytes = 0;
  std::uint64_t at_seq = 0;           ///< every operation with seq <= at_seq is in this tree; the log holds later ones
  std::uint64_t allocated_bytes = 0;  ///< bytes of the tree's objects (reachable, or retired and not yet freed)
  std::uint64_t committed_unix_ns = 0;
  std::uint64_t flags = 0;  ///< pool_flag bits
};

/// The persistent root object. Offsets are fixed (static_asserts below); never reorder.
struct pool_root {
  std::array<char, 8> magic;        // 0
  std::uint32_t format_version;     // 8
  std::uint32_t incompat_features;  // 12
  std::uint64_t log_offset;         // 16: pool offset of the operation log area, written at creation
  std::uint64_t log_bytes;          // 24: its size
  std::array<std::uint8_t, 16> id;  // 32: random store id, written at creation
  std::uint64_t created_unix_ns;    // 48
  std::uint64_t reserved;           // 56: zero
  pool_meta meta;                   // 64..135: changed by every commit
  std::uint64_t checksum;           // 136: checksum64 of bytes [0, 136)
};
static_assert(offsetof(pool_root, meta) == 64);
static_assert(offsetof(pool_root, checksum) == 136);
static_assert(sizeof(pool_root) == 144);

/// checksum64 of every byte of `r` before its checksum field.
[[nodiscard]] std::uint64_t root_checksum(const pool_root& r) noexcept;

/// Errors: corruption (not a tessel pool: magic, checksum), version_mismatch (newer format or an unknown
/// incompatible feature). `what` names the pool in messages.
[[nodiscard]] result<void> check_root(const pool_root& r, const std::string& what) noexcept;

}  // namespace tessel::pmem
