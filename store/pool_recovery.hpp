// Opening a pmem store's tree: libpmemobj has already recovered its heap (an interrupted publish is
// finished or dropped whole), so the root object names one whole tree. What can be wrong is garbage: an
// object allocated but reachable from no durable tree (retired blocks whose free never got published), and,
// on a damaged pool, references to memory that is not an allocated object.
//
// audit_pool walks the tree (bounds-checking every reference, as the mmap recovery does) and compares the
// blocks it reaches with the pool's allocated objects: reachable but not allocated is corruption; allocated
// but unreachable is a leak. Open audits after an unclean close (or when asked to verify checksums) and frees
// what leaked; `tessel check` and `tessel recover` use the same audit.
//
// Thread safety: runs before the store is shared, or on a pool opened read-only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tessel/error.hpp"

#include "pmem/pool_region.hpp"
#include "store/named_roots.hpp"

namespace tessel::detail {

/// What the tree of a pool reaches, against what the pool holds.
struct pool_audit {
  std::uint64_t leaves = 0;  ///< tree blocks reached
  std::uint64_t inner_nodes = 0;
  std::uint64_t block_bytes = 0;        ///< their bytes, block headers included
  std::uint64_t objects = 0;            ///< allocated objects (root and log area excluded)
  std::uint64_t leaves_named_only = 0;  ///< blocks only named snapshots reach
  std::uint64_t inner_nodes_named_only = 0;
  std::vector<named_only_block> named_only;
  std::vector<pmem::pool_range> leaked;  ///< allocated objects no block of the tree is in
  /// Damage: a block that is not an allocated object or overflows it, two references to one block, and
  /// with `verify_checksums` blocks failing their checksum (the first few, then a count).
  std::vector<std::string> problems;
};

/// Walks the tree of `pool`'s root object, then the roots of `named`, and merges what they reach with the
/// pool's objects. `progress`, when set, is called now and then with the blocks walked so far.
/// Errors: corruption (a reference outside the pool, a damaged node: the walk cannot go on), no_memory.
[[nodiscard]] result<pool_audit> audit_pool(const pmem::pool_region& pool, bool verify_checksums,
                                            std::span<const named_snapshot_record> named,
                                            const std::function<void(std::uint64_t)>& progress = {}) noexcept;

/// What open found in a pool.
struct pool_recovery {
  bool was_clean = false;  ///< closed cleanly: nothing could have leaked, so no audit ran (unless verifying)
  bool audited = false;
  std::uint64_t blocks = 0;
  std::uint64_t block_bytes = 0;
  std::uint64_t leaked_objects = 0;  ///< found by the audit; freed unless the store is read-only
  std::uint64_t leaked_bytes = 0;
  std::uint64_t replayed = 0;       ///< log records applied after the tree
  std::optional<std::string> torn;  ///< why the log's last record was refused, when one was
  std::chrono::nanoseconds elapsed{};
  std::vector<named_only_block> named_only;  ///< blocks only named snapshots reach: the store retires them
};

/// Audits `pool` when it was not closed cleanly, `verify_checksums`, or it has named snapshots (`named`),
/// and frees what leaked when `writable`. Errors: as audit_pool; those of freeing.
[[nodiscard]] result<pool_recovery> recover_pool_tree(pmem::pool_region& pool, bool verify_checksums, bool writable,
                                                      std::span<const named_snapshot_record> named = {}) noexcept;

}  // namespace tessel::detail
