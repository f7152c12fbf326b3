// Durable writes that leave their wait for the log's fdatasync to the caller (docs/design.md §Durable
// stores, "Group commit under a sharded store"). A sharded store writes a shard under the shard's lock;
// waiting there for a durability-log write's fdatasync would keep every other writer of the shard from
// even appending its record until the sync ends -- one record per sync, no group commit. So the write
// leaves the sync it owes, the caller releases its locks, then pays, and writers that append meanwhile
// share the sync. The writes: put, erase, and an atomic batch of them (one record of kind batch, "Batch
// records" in the same section); reserve_room makes a cross-shard batch's room in a shard the same way a
// batch makes its own.
//
// Thread safety: the writes as store::put and erase; pay() from any thread, holding no lock of the store's.
#pragma once

#include <cstdint>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"
#include "tessel/store.hpp"

#include "store/batch_ops.hpp"

namespace tessel::detail {

class store_impl;

/// The fdatasync a write owes: its record's seq in one store's log. Empty when nothing is owed (a dram or
/// pmem store, durability none or sync, a write that changed nothing).
class owed_sync {
 public:
  [[nodiscard]] bool empty() const noexcept { return owner_ == nullptr; }
  /// Waits until the record is durable (with every record before it), and is empty after. Errors: those of
  /// store::put's sync (io_error, fatal: the store then refuses writes until reopened).
  [[nodiscard]] result<void> pay() noexcept;

  owed_sync() noexcept = default;
  /// What a write to `owner`'s log, record `seq`, leaves to sync.
  owed_sync(store_impl& owner, std::uint64_t seq) noexcept : owner_(&owner), seq_(seq) {}

 private:
  store_impl* owner_ = nullptr;
  std::uint64_t seq_ = 0;
};

/// store::put at the store's own durability, except that the fdatasync durability log waits for is left
/// in `owed`. REQUIRES: `owed` empty. Errors: as store::put, but for the sync's.
[[nodiscard]] result<void> put_owing_sync(store& s, key_view key, value_view value, owed_sync& owed) noexcept;
/// store::erase likewise.
[[nodiscard]] result<bool> erase_owing_sync(store& s, key_view key, owed_sync& owed) noexcept;
/// Applies `ops` to `s`, in order, as one write: a durable store logs them as one batch record
/// (oplog::op_kind::batch), so a crash keeps all of them or none; a pmem pool made before batch records
/// commits instead. The sync is left in `owed` as put_owing_sync leaves it. REQUIRES: `owed` empty; no op
/// points into `s`. Errors: invalid_argument (a key or value past the limits, a batch past the largest log
/// record), no_space (no room for the batch: nothing written), and as store::put; fatal when an op fails
/// after earlier ones changed the tree (room_for_ops fell short) -- a durable
/// store then refuses writes until reopened, which recovers it from before the batch, and a dram store's
/// owner must treat it as broken.
[[nodiscard]] result<void> write_batch_owing_sync(store& s, std::span<const batch_op> ops, owed_sync& owed) noexcept;
/// Makes room in `s` for `bytes` of tree blocks (room_for_ops; write_batch_owing_sync does it itself), for
/// a cross-shard batch's part before the batch's commit point: a full disk is then a no_space that changed
/// nothing rather than a part that cannot be applied after the batch was decided. Errors: no_space,
/// io_error.
[[nodiscard]] result<void> reserve_room(store& s, std::uint64_t bytes) noexcept;

/// Makes durable every write of `s` whose sync is still owed (put_owing_sync, erase_owing_sync), when its
/// writes wait for its log (a file store at durability log); returns at once when none is. For a reader
/// holding the shard, where a writer may have released it still owing its sync. Errors: as
/// owed_sync::pay().
[[nodiscard]] result<void> settle_logged_writes(store& s) noexcept;

}  // namespace tessel::detail
