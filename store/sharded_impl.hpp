// The internals of a sharded store (include/tessel/sharded_store.hpp), shared by its files:
// sharded_store.cpp (open, reads and writes, cuts), shard_placement.cpp (binding and workers),
// sharded_batches.cpp (cross-shard batches and their recovery), merged_cursor.cpp.
//
// Thread safety: as sharded_store.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "tessel/error.hpp"
#include "tessel/options.hpp"
#include "tessel/sharded_store.hpp"
#include "tessel/store.hpp"

#include "common/background_job.hpp"
#include "log/log_writer.hpp"
#include "numa/topology.hpp"
#include "store/shard_manifest.hpp"
#include "store/shard_router.hpp"
#include "store/shard_worker.hpp"

namespace tessel::detail {

struct sharded_impl {
  explicit sharded_impl(shard_router r) noexcept : router(r) {}
  shard_router router;
  shard_mode mode = shard_mode::inline_calls;
  durability level = durability::log;   // the shards' default durability (options::durability)
  std::unique_ptr<std::mutex[]> locks;  // one per shard: its writers, and snapshot()'s cut
  // Before the shards: their regions' growth hooks and their workers use it until they are gone.
  std::optional<numa::topology> topology;
  std::vector<std::unique_ptr<store>> shards;
  std::unique_ptr<oplog::log_writer> coordinator;  // durable stores: the cross-shard batch log
  // Batches on disjoint shards commit concurrently: their reserve + append pairs take turns on this (the
  // log writer's rule); their syncs share fsyncs outside it (group commit).
  std::mutex coordinator_mutex;
  // The coordinator log has gone past coordinator_segments_kept segments: the next batch to release its
  // shards has the trimmer drop the records every shard holds durably (trim_coordinator_if_due); past
  // coordinator_segments_backlog it trims them itself. One trims at a time.
  std::atomic<bool> trim_due{false};
  std::atomic<bool> trim_backlogged{false};
  std::mutex trim_mutex;
  std::optional<error> failed;  // a batch failed after its commit point: batches refused until reopened
  std::mutex failed_mutex;
  // Declared after the shards they write, so they stop first.
  std::vector<std::unique_ptr<shard_worker>> workers;
  // Durable stores that can write: the thread that trims the coordinator log (trim_coordinator). Last:
  // it uses everything above, so it stops first.
  std::unique_ptr<background_job> trimmer;
};

/// Binds the shards' regions to their NUMA nodes when `s` asks, and in worker mode starts one worker per
/// shard, pinned to its core when asked, after publishing what each shard holds (shard_placement.cpp).
/// Errors: those of store::publish. Throws std::bad_alloc.
[[nodiscard]] result<void> place_shards(sharded_impl& impl, const options& opts, const shard_options& s);

/// Opens a durable sharded store's coordinator log: re-applies every batch a shard's marker says it lacks,
/// then opens the writer after the last record. A read-only store only checks: a batch some shard lacks is
/// not_supported (sharded_batches.cpp). Errors: corruption, io_error, no_memory, the shards' write errors.
[[nodiscard]] result<void> recover_batches(sharded_impl& impl, const std::filesystem::path& dir,
                                           const shard_manifest& m, const options& opts) noexcept;

/// Segments the coordinator log may hold before a batch has it trimmed: the current one, and the one
/// before it whose last batches may still be applying.
inline constexpr std::size_t coordinator_segments_kept = 2;
/// Segments past which a batch trims the log on its own thread, waiting for a trim under way: the
/// trimmer has fallen behind (its shards' flushes are slow), and the log must not grow without bound.
inline constexpr std::size_t coordinator_segments_backlog = 4;

/// The id of the last batch in the coordinator log once it is applied in full: taken under every shard's
/// lock, since a batch holds its shards from before its commit point until its parts are applied.
/// nullopt when a batch failed after its commit point: some of its parts may be missing, and only a
/// reopen finishes it -- from its record, which must stay. REQUIRES: a coordinator; the caller holds no
/// shard's lock.
[[nodiscard]] std::optional<std::uint64_t> batches_applied_through(sharded_impl& impl);

/// Makes every shard's log durable, then deletes the coordinator segments whose batches were all applied
/// before (their parts are then in the shards' own logs or trees), when a batch marked trim_due. Best
/// effort: a failure leaves the segments for the next trim or checkpoint. The trimmer's job.
/// REQUIRES: the caller holds no shard's lock.
void trim_coordinator(sharded_impl& impl) noexcept;

/// After a batch released its shards: asks the trimmer for a trim when one is due, or trims on this
/// thread when the log is past coordinator_segments_backlog (or there is no trimmer thread).
/// REQUIRES: the caller holds no shard's lock.
void trim_coordinator_if_due(sharded_impl& impl) noexcept;

}  // namespace tessel::detail
