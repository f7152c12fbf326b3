// `tessel bench --durable`: what durability costs, next to LMDB and RocksDB in the same run, on the same
// disk. Three parts:
//   - durable single-key puts, one thread: tessel mmap and pmem stores at durability log and sync, a
//     one-shard kv store's sets and two-key transactions at log, LMDB (a synced commit per put), RocksDB
//     (sync = true); each put timed alone;
//   - group commit: the same puts from 2 threads, total throughput, for tessel (log), the kv store's sets
//     and transactions, and RocksDB;
//   - warm gets: the same keys loaded into a tessel mmap, pmem and dram store and LMDB; each get timed alone
//     with the fenced cycle counter (LMDB reads inside one long read transaction, its best case); then
//     durable puts into the loaded pmem store.
// pmem stores persist with cache flushes (PMEM_IS_PMEM_FORCE=1, set unless the environment says otherwise).
// Stores live in fresh subdirectories of --dir, removed afterwards. docs/tools.md §bench --durable.
//
// Thread safety: runs on the calling thread (and the 2 writer threads it starts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessel::tools {

struct durable_bench_config {
  std::string dir = "tessel-bench-data";
  std::size_t puts = 2000;       ///< durable puts per subject (and in total for the 2-thread run)
  std::size_t keys = 1'000'000;  ///< keys loaded for the get comparison
  std::size_t gets = 200'000;    ///< timed gets per subject
  std::size_t value_size = 16;
  std::uint64_t seed = 42;
  bool json = false;
  bool peers = true;
};

/// Returns the process exit code (0; 3 when a subject returned a wrong answer; the errc of a failure).
int run_durable_bench(const durable_bench_config& config);

}  // namespace tessel::tools
