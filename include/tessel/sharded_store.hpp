// tessel::sharded_store: one store made of N shards, each a complete tessel::store (its own tree, region,
// commits and log), with every key routed to one shard (docs/concurrency.md). A durable sharded store is a
// directory holding a manifest (docs/format.md §Shard manifest) and one store per shard, `shard-000/`...
//
// Whole-store reads merge the shards: a merged_cursor yields every key once, in key order. snapshot() takes
// one snapshot per shard as one cut: no write is between them.
//
// Thread safety: writes may come from any thread. Inline mode: writes to one shard serialise on that
// shard's lock (or the shard's owner thread calls shard(i) directly), and reads of the live shards need
// their writers quiet, as for tessel::store. Worker mode: each shard's worker applies its writes, and reads
// go to published versions, safe from any thread at any time. A sharded_snapshot is readable from any
// thread while writes go on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tessel/bytes.hpp"
#include "tessel/cursor.hpp"
#include "tessel/error.hpp"
#include "tessel/function_ref.hpp"
#include "tessel/options.hpp"
#include "tessel/snapshot.hpp"
#include "tessel/store.hpp"

namespace tessel {

namespace detail {
struct sharded_impl;
struct sharded_access;
}  // namespace detail

/// Which part of a key chooses its shard.
enum class routing : std::uint8_t {
  whole_key = 0,
  hash_tag = 1,         ///< the text of the first {...} (else the whole key)
  path_components = 2,  ///< the first shard_options::path_components '/'-separated components
};

/// How writes reach a shard (docs/concurrency.md §Modes).
enum class shard_mode : std::uint8_t {
  inline_calls = 0,  ///< the caller's thread writes the shard itself, under the shard's lock
  workers = 1,       ///< one worker thread per shard applies queued writes in batches
};

struct shard_options {
  /// Shards of a new store; 0 makes one per core of this machine. An existing store keeps its own count:
  /// a different non-zero value is an error.
  std::uint32_t shards = 0;
  routing rule = routing::whole_key;
  std::uint32_t path_components = 1;
  shard_mode mode = shard_mode::inline_calls;
  /// Workers: pin each to its shard's core (numa::plan_placement on this machine's topology).
  bool pin_workers = true;
  /// Bind each shard's region to its NUMA node (the same plan): the whole reservation of a dram shard, the
  /// pool of a pmem shard, an mmap shard's file mapping as it grows. A machine that cannot bind ignores
  /// this.
  bool bind_memory = true;
  /// Workers: writes a shard's queue holds before writers wait.
  std::size_t queue_capacity = 4096;
};

/// The entries of several shards (or of their snapshots) merged into one ascending key order. Forward only.
/// Lifetime and invalidation as for the cursors it merges.
class merged_cursor {
 public:
  [[nodiscard]] bool valid() const noexcept { return !heap_.empty(); }
  /// REQUIRES: valid().
  [[nodiscard]] key_view key() const noexcept { return cursors_[heap_.front()].key(); }
  [[nodiscard]] value_view value() const noexcept { return cursors_[heap_.front()].value(); }
  /// The shard of the current entry. REQUIRES: valid().
  [[nodiscard]] std::uint32_t shard() const noexcept { return heap_.front(); }
  void seek_to_first() noexcept;
  /// Moves to the first key >= `key`.
  void seek(key_view key) noexcept;
  /// Moves to the first key that starts with `prefix`; next() stays among them (cursor::seek_in_prefix).
  void seek_in_prefix(key_view prefix) noexcept;
  /// REQUIRES: valid().
  void next() noexcept;

 private:
  friend class sharded_store;
  friend class sharded_snapshot;
  explicit merged_cursor(std::vector<cursor> cursors) noexcept;
  void rebuild() noexcept;
  std::vector<cursor> cursors_;
  std::vector<std::uint32_t> heap_;  // shards whose cursor is valid, a min-heap by key
};

/// One snapshot per shard, taken as one cut.
class sharded_snapshot {
 public:
  [[nodiscard]] result<value_view> get(key_view key) const noexcept;
  [[nodiscard]] bool contains(key_view key) const noexcept;
  [[nodiscard]] std::size_t len() const noexcept;
  [[nodiscard]] merged_cursor new_cursor() const noexcept;
  [[nodiscard]] const snapshot& shard(std::uint32_t i) const noexcept { return shards_[i]; }

 private:
  friend class sharded_store;
  sharded_snapshot(std::shared_ptr<const detail::sharded_impl> impl, std::vector<snapshot> shards) noexcept
      : impl_(std::move(impl)), shards_(std::move(shards)) {}
  std::shared_ptr<const detail::sharded_impl> impl_;  // the router
  std::vector<snapshot> shards_;
};

/// What a transaction's decision reads (sharded_store::transact): the live entries of the shards the
/// transaction holds, as no other writer can change them until it ends.
class batch_reader {
 public:
  /// The value of `key` now; the view lasts until the decision returns. Errors: not_found;
  /// invalid_argument (a key in a shard the transaction does not hold).
  [[nodiscard]] result<value_view> get(key_view key) const noexcept;

 private:
  friend class sharded_store;
  batch_reader(const detail::sharded_impl& impl, const std::vector<bool>& held) noexcept : impl_(impl), held_(&held) {}
  batch_reader(const detail::sharded_impl& impl, std::uint32_t only) noexcept : impl_(impl), only_(only) {}
  [[nodiscard]] bool holds(std::uint32_t shard) const noexcept {
    return held_ != nullptr ? (*held_)[shard] : shard == only_;
  }
  const detail::sharded_impl& impl_;
  const std::vector<bool>* held_ = nullptr;  // the shards held; null: only shard `only_` (one key)
  std::uint32_t only_ = 0;
};

class sharded_store {
 public:
  /// A new in-memory sharded store; every shard opens with `opts` (backend dram). Errors: as store::open,
  /// invalid_argument (shard options).
  [[nodiscard]] static result<std::unique_ptr<sharded_store>> open(const options& opts,
                                                                   const shard_options& shards) noexcept;
  /// Opens or creates (opts.mode) the durable sharded store in directory `path`: every shard opens with
  /// `opts`. Errors: as store::open; corruption or version_mismatch of the manifest; invalid_argument
  /// (a shard count or rule other than the store's).
  [[nodiscard]] static result<std::unique_ptr<sharded_store>> open(const std::string& path, const options& opts,
                                                                   const shard_options& shards) noexcept;
  sharded_store(const sharded_store&) = delete;
  sharded_store& operator=(const sharded_store&) = delete;
  ~sharded_store();

  [[nodiscard]] std::uint32_t shards() const noexcept;
  /// Whether a cross-shard batch failed after its commit point (some of its parts may be missing until a
  /// reopen finishes it): the store then refuses batches, keeps every coordinator record, and is reported
  /// fatal by the call that failed.
  [[nodiscard]] bool batch_failed() const noexcept;
  /// The shard `key` belongs to.
  [[nodiscard]] std::uint32_t shard_of(key_view key) const noexcept;
  /// Shard `i` itself, for its owner thread (inline mode). REQUIRES: i < shards().
  [[nodiscard]] store& shard(std::uint32_t i) noexcept;
  [[nodiscard]] const store& shard(std::uint32_t i) const noexcept;

  /// Inline mode: the value in the live shard (its writer must be quiet). Worker mode reads published
  /// versions instead: not_supported here, use get_string() or published().
  [[nodiscard]] result<value_view> get(key_view key) const noexcept;
  /// A copy of the value: inline mode from the live shard, worker mode from its published version.
  [[nodiscard]] result<std::string> get_string(key_view key) const noexcept;
  [[nodiscard]] bool contains(key_view key) const noexcept;
  /// Durable as the shards' options say; in worker mode, through the shard's worker (waiting for it).
  /// Errors: as store::put.
  [[nodiscard]] result<void> put(key_view key, value_view value) noexcept;
  [[nodiscard]] result<bool> erase(key_view key) noexcept;
  /// Worker mode: queues the write and returns at once; the future completes once the write is applied,
  /// durable and visible to published(). Inline mode: writes now, and the future is ready.
  [[nodiscard]] std::future<result<void>> put_async(key_view key, value_view value) noexcept;
  [[nodiscard]] std::future<result<bool>> erase_async(key_view key) noexcept;
  /// Applies `ops` in order as one write, atomic across shards: a cut or a crash shows all of it or none
  /// (docs/concurrency.md §Cross-shard commits). Writes that all go to one shard are one record of that
  /// shard's log, durable as a single write is; writes to several shards are a record in the coordinator
  /// log, synced before they are applied. Either way the batch is durable when the call returns (written
  /// to the operating system only, when the store's durability is none: atomic across a killed process, not
  /// a power loss). Worker mode: applied under the shards' locks, between their workers' batches, then
  /// published. Errors: invalid_argument (a key or value over its limit, or a key under tessel's reserved
  /// prefix "\xFF\xFFtessel/txn/"), io_error / no_space (no room for the record or for a shard's writes: nothing
  /// applied), fatal (a failure after the coordinator record was durable: reopen to recover the batch; or a shard that
  /// failed halfway through a batch of its own: reopen to go back to before it).
  [[nodiscard]] result<void> write_batch(const std::vector<write_op>& ops) noexcept;
  /// A read-modify-write, atomic across shards: holds the shards of `keys` (their locks, in shard order;
  /// a worker takes its shard's lock to apply, so worker mode waits for the batch in progress), calls
  /// `decide` with a reader of those shards' live entries, and applies what it leaves in `ops` as
  /// write_batch does (writes of one shard go straight to its log). `applied` then runs, still holding
  /// the shards, so whatever it records about the writes (events, say) is in the shards' write order. A
  /// decision that returns an error writes nothing, and transact returns that error. `ops` reaches the
  /// decision as the caller passed it (reuse one vector, and its strings' memory, across calls). Worker mode publishes
  /// the written shards before returning. Errors: the decision's; invalid_argument (an op whose key is in a shard not
  /// held); those of write_batch.
  [[nodiscard]] result<void> transact(std::span<const key_view> keys, std::vector<write_op>& ops,
                                      function_ref<result<void>(const batch_reader&, std::vector<write_op>&)> decide,
                                      function_ref<void()> applied) noexcept;
  /// Calls `visit` with `key`'s value, or not_found, where no writer disturbs it: inline mode under the
  /// shard's lock, worker mode in the shard's published version. The view lasts until `visit` returns.
  void read(key_view key, function_ref<void(const result<value_view>&)> visit) const noexcept;
  /// Entries of every shard. O(shards). Worker mode: of the published versions.
  [[nodiscard]] std::size_t len() const noexcept;
  /// Inline mode: every entry of every live shard in key order (their writers must be quiet).
  [[nodiscard]] merged_cursor new_cursor() const noexcept;
  /// One snapshot per shard with no write between them: inline mode freezes the live shards, worker mode
  /// takes the versions the workers published last. Errors: no_memory.
  [[nodiscard]] result<sharded_snapshot> snapshot() noexcept;
  /// Each shard's latest published version (not one cut: snapshot() is). Any thread, no lock but a copy
  /// of each shard's handle.
  [[nodiscard]] sharded_snapshot published() const noexcept;

  /// store::flush / checkpoint / close of every shard; the first error, after trying all.
  [[nodiscard]] result<void> flush() noexcept;
  [[nodiscard]] result<void> checkpoint() noexcept;
  [[nodiscard]] result<void> close() noexcept;
  /// store::compact of every shard, each under its shard's lock: in worker mode between the worker's
  /// batches, and published once done, so readers of the published versions scan the compacted trees.
  /// Writers to a shard wait while it compacts. The first error, after trying all.
  [[nodiscard]] result<void> compact() noexcept;

 private:
  friend struct detail::sharded_access;
  explicit sharded_store(std::shared_ptr<detail::sharded_impl> impl) noexcept;
  std::shared_ptr<detail::sharded_impl> impl_;
};

}  // namespace tessel
