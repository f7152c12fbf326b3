// Options for opening a store.
//
// Thread safety: a plain value.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace tessel {

/// Where a store's tree lives.
enum class backend : std::uint8_t {
  dram,  ///< anonymous memory; nothing survives the process
  mmap,  ///< a file mapped shared, with crash-safe commits and an operation log (store::open with a path)
  pmem,  ///< a libpmemobj pool: persistent memory (DAX) or any file, flush-based commits (store::open with a path)
};

/// When a write is durable -- survives kill -9 and power loss -- relative to the call returning.
enum class durability : std::uint8_t {
  none,  ///< at the next checkpoint, flush() or close(); a crash may lose recent writes (never half of one)
  log,   ///< before the call returns: its operation log record is synced (concurrent writers share a sync)
  sync,  ///< before the call returns: the tree itself is committed (two syncs; no log replay needed)
};

/// Which thread runs a durable mmap store's policy checkpoints (options::checkpoints_on).
enum class checkpoint_thread : std::uint8_t {
  automatic,   ///< the checkpointer on a host of at least 4 cores, else the writer
  background,  ///< the store's checkpointer thread, started at the first checkpoint
  writer,      ///< the thread whose write found a checkpoint due
};

/// What store::open(path) does with what it finds.
enum class open_mode : std::uint8_t {
  create_or_open,  ///< open the store in the directory, or create one there
  create_new,      ///< create; invalid_argument when a store is already there
  open_existing,   ///< open; not_found when there is none
};

struct options {
  // ---- Parameters that affect behaviour ----

  /// Where the tree lives. Default: dram. store::open(path, options) needs a durable backend (mmap).
  tessel::backend backend = backend::dram;

  /// Durable stores: what open does with the directory. Default: create_or_open.
  tessel::open_mode mode = open_mode::create_or_open;

  /// Durable stores: the default durability of writes; each write may ask for another. Default: log.
  tessel::durability durability = durability::log;

  /// Durable stores: open without writing anything, ever (inspection tools). Writes fail with
  /// not_supported. Default: false.
  bool read_only = false;

  /// Durable stores: verify each tree block's checksum when open walks the durable tree, so damage is found
  /// at open instead of by `tessel check`. Costs reading every byte of the store. Default: false.
  bool verify_checksums_on_open = false;

  /// Durable stores: get() verifies the checksum of the leaf it returns (committed leaves; a leaf written
  /// since the last commit has no checksum yet) and fails with corruption naming its offset instead of
  /// returning damaged bytes. Inner nodes are verified by `tessel check`. Default: false.
  bool verify_checksums_on_read = false;

  /// Durable stores: permission bits of a newly created store directory and data files (before umask is
  /// ignored: exactly these). Default: owner only (0700 and 0600).
  std::uint32_t directory_mode = 0700;
  std::uint32_t file_mode = 0600;

  // ---- Parameters that affect performance ----

  /// Virtual address space reserved up front for the region, in bytes. Memory is committed only as the
  /// tree grows; the reservation only caps growth, so it is set far above any expected size.
  /// 0 picks the default: 1 TiB (64 GiB in sanitizer builds, whose address-space layouts are tighter).
  std::size_t reserve_bytes = 0;

  /// Ask the kernel to back a dram region with transparent huge pages (fewer TLB misses on lookups).
  /// Ignored where the kernel refuses. Default: true.
  bool huge_pages = true;

  /// pmem stores: the size of the pool file made at creation (libpmemobj pools do not grow); a full pool
  /// fails writes with no_space until deletes make room. Ignored when opening. Default: 1 GiB.
  std::uint64_t pool_bytes = 1ULL << 30;

  /// Durable stores: checkpoint (commit the tree, drop the log before it) once the log holds this many bytes
  /// since the last checkpoint. Default: 64 MiB.
  std::uint64_t checkpoint_log_bytes = 64ULL << 20;

  /// Durable stores: and at the latest this long after the first write since the last checkpoint.
  /// Zero: never by time. Default: 30 s.
  std::chrono::milliseconds checkpoint_interval{30'000};

  /// mmap stores: which thread runs the policy's checkpoints (above). On the store's own checkpointer
  /// thread the writers go on while the tree is sealed and synced; on the thread whose write found one
  /// due, every writer waits for the whole commit (hundreds of milliseconds for a large store). But the
  /// checkpointer needs a core: on a host of two, beside a writer and the kernel's writeback, it cost the
  /// writer's p99.9 far more than it saved its worst case (docs/benchmarks.md §Checkpoint stalls). pmem
  /// stores always checkpoint on the writing thread. Default: automatic.
  checkpoint_thread checkpoints_on = checkpoint_thread::automatic;

  /// Durable stores: size of each operation log segment file (preallocated); for a pmem store, the size of
  /// the log area inside the pool, made at creation (at most an eighth of pool_bytes; a full area triggers a
  /// checkpoint). Default: 16 MiB.
  std::uint64_t log_segment_bytes = 16ULL << 20;

  // ---- Testing ----

  /// Durable stores: map the data file privately and write to it only what the commit protocol makes
  /// durable, so a test that abandons the store sees exactly what power loss would leave. Never in production.
  bool simulate_power_loss = false;
};

}  // namespace tessel
