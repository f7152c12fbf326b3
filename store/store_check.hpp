// check_store: everything `tessel check` verifies in a durable store, without writing a byte: the superblock
// and both meta slots (checksums), every block of the current tree and of the named snapshots (bounds, block
// header, checksum), the
// tree's invariants (index::inspect_verify), and the allocator's accounting -- every reachable block inside
// the committed frontier, no two overlapping; after a clean close every byte below the frontier is exactly one
// of reachable, recorded free, or the record itself; after a crash what is not reachable is garbage the next
// open reclaims; and the operation log (segment headers, record
// checksums and sequence, no records missing after the commit's at_seq). A torn log tail is not damage: it is
// what a crash between a write and its sync leaves, and open cuts it.
//
// Thread safety: opens its own read-only handle (a shared lock: it waits for no writer, and a store open for
// writing is `busy`).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tessel/error.hpp"

namespace tessel {

/// What `check` found that only a pmem store has.
struct pool_check_facts {
  bool is_pmem = false;  ///< libpmem sees persistent memory (flush-based persistence), else the msync path
  std::uint64_t pool_bytes = 0;
  std::string pmempool_result;                 ///< libpmempool's verdict on the pool's own metadata
  std::vector<std::string> pmempool_messages;  ///< what libpmempool reported on the way
  std::uint64_t objects = 0;                   ///< allocated objects (root and log area excluded)
  std::uint64_t leaked_objects = 0;            ///< allocated, reached by no tree block: garbage the next open frees
  std::uint64_t leaked_bytes = 0;
};

struct check_report {
  std::vector<std::string> problems;  ///< empty: the store is healthy
  std::array<std::string, 2> slots;   ///< "generation N, epoch E" or why the slot is unusable
  int slot = -1;                      ///< the slot whose tree was checked
  std::uint64_t generation = 0;
  std::uint64_t key_count = 0;  ///< as the meta slot records it
  std::uint64_t leaves = 0;     ///< as the walk found them
  std::uint64_t inner_nodes = 0;
  /// Of the pairs of leaves that are neighbours in key order, those whose second lies after the first in
  /// the file: near leaves - 1 after a load or store::compact, near half after random writes (a scan of
  /// such a store waits on a random line per key; compacting it helps). mmap stores.
  std::uint64_t leaves_in_key_order = 0;
  std::uint64_t block_bytes = 0;        ///< allocator bytes of reachable blocks (headers, rounding)
  std::uint64_t named_snapshots = 0;    ///< in the snapshot catalog
  std::uint64_t named_only_blocks = 0;  ///< reached by named snapshots only (counted in block_bytes)
  std::uint64_t frontier = 0;
  std::uint64_t unreachable_bytes = 0;    ///< below the frontier, not reachable: free or garbage
  std::uint64_t recorded_free_bytes = 0;  ///< free space a clean close recorded (then cross-checked exactly)
  std::uint64_t file_size = 0;
  bool clean_close = false;
  std::uint64_t log_records = 0;            ///< valid records in the operation log
  std::uint64_t log_records_to_replay = 0;  ///< of them, after the checked commit's at_seq
  std::string log_torn_tail;                ///< where a torn tail starts (the next open cuts it); empty if none
  std::optional<pool_check_facts> pool;     ///< set for a pmem store (which has no meta slots nor frontier)
};

/// Called now and then with the number of blocks verified so far.
using check_progress = std::function<void(std::uint64_t blocks)>;

/// Checks the store in `dir`, an mmap store or a pmem store (then pool_check.hpp does the work).
/// Errors (the store could not be examined at all): not_found, busy, io_error, version_mismatch, and
/// corruption of the superblock. Damage found in the meta slots or the tree is in report.problems.
[[nodiscard]] result<check_report> check_store(const std::filesystem::path& dir,
                                               const check_progress& progress = {}) noexcept;

}  // namespace tessel
