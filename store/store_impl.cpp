#include "store/store_impl.hpp"

#include <chrono>
#include <thread>
#include <utility>

#include "common/platform.hpp"
#include "store/block_header.hpp"

namespace tessel::detail {

namespace {

/// Actions a pmem store lets wait for one publish: a publish costs about 0.3 us per action, so this bounds
/// a checkpoint's stall near 20 ms.
constexpr std::size_t max_pending_pool_actions = 1 << 16;

/// Releases a mutex that the caller holds, for a scope, and takes it back at the end.
class mutex_released {
 public:
  explicit mutex_released(std::mutex& m) noexcept : mutex_(m) { mutex_.unlock(); }
  mutex_released(const mutex_released&) = delete;
  mutex_released& operator=(const mutex_released&) = delete;
  ~mutex_released() { mutex_.lock(); }

 private:
  std::mutex& mutex_;
};

/// Hosts with fewer cores checkpoint on the writing thread by default: there the checkpointer competes with
/// the writer and the kernel's writeback for two cores (docs/benchmarks.md §Checkpoint stalls).
constexpr unsigned checkpointer_min_cpus = 4;

bool checkpoints_in_background(checkpoint_thread t) noexcept {
  if (t == checkpoint_thread::automatic) return std::thread::hardware_concurrency() >= checkpointer_min_cpus;
  return t == checkpoint_thread::background;
}

}  // namespace

store_impl::store_impl(std::unique_ptr<mmap::mapped_region> region, std::unique_ptr<durable_state> durable) noexcept
    : durable_(std::move(durable)), mapped_(std::move(region)), region_(*mapped_), tree_(region_) {
  const mmap::meta_slot& m = durable_->recovery.meta;
  tree_.adopt({index::node_ref::from_bits(m.root), m.epoch, m.key_count}, m.leaf_bytes);
  verify_reads_ = durable_->opts.verify_checksums_on_read;
  if (!durable_->opts.read_only && checkpoints_in_background(durable_->opts.checkpoints_on)) {
    try {
      checkpointer_ = std::make_unique<background_job>([this] { checkpoint_in_background(); });
    } catch (...) {
      // Out of memory: the policy's checkpoints run on the writing thread, as a pmem store's do.
    }
  }
}

store_impl::store_impl(std::unique_ptr<pmem::pool_region> pool, std::unique_ptr<durable_state> durable) noexcept
    : durable_(std::move(durable)), pool_(std::move(pool)), region_(*pool_), tree_(region_) {
  const pmem::pool_meta& m = pool_->root().meta;
  tree_.adopt({index::node_ref::from_bits(m.root), m.epoch, m.key_count}, m.leaf_bytes);
  verify_reads_ = durable_->opts.verify_checksums_on_read;
}

result<void> store_impl::verify_leaf(key_view key, value_view value) const noexcept {
  // A leaf is header, key, value (index/node_layout.hpp): its start follows from the value's position.
  const std::byte* const base = region_.base();
  const std::byte* const leaf = value.data() - key.size() - index::leaf_layout::header_size(value.size());
  // Leaves born after the last commit have no checksum yet.
  if (index::leaf_layout::epoch(leaf) > durable_epoch()) return {};
  const auto offset = static_cast<std::uint64_t>(leaf - base);
  if (auto problem = block_problem(base, offset, index::leaf_layout::block_size(key.size(), value.size()), "leaf")) {
    return make_error(errc::corruption, *problem);
  }
  return {};
}

std::uint64_t store_impl::last_seq() const noexcept {
  if (!durable_) return 0;
  if (durable_->pool_log) return durable_->pool_log->last_seq();
  if (durable_->log) return durable_->log->last_seq();
  // Read-only: no writer; the tree is the durable commit plus the records open replayed after it.
  const std::uint64_t at = pool_ ? pool_->root().meta.at_seq : durable_->committer->durable().at_seq;
  return at + durable_->replayed_records;
}

result<void> store_impl::writable_locked() const noexcept {
  if (durable_->opts.read_only) return make_error(errc::not_supported, "the store is open read-only");
  if (durable_->closed) return make_error(errc::not_supported, "the store is closed");
  if (durable_->failed) {
    return make_error(errc::fatal, "an earlier commit failed (" + durable_->failed->to_string() +
                                       "); reopen the store to recover its last durable state");
  }
  return {};
}

bool store_impl::checkpoint_due_locked() const noexcept {
  const options& o = durable_->opts;
  if (pool_) {
    if (durable_->pool_log->used_bytes() >= o.checkpoint_log_bytes) return true;
    if (pool_->pending_actions() >= max_pending_pool_actions) return true;
  } else if (durable_->log->retained_bytes() - durable_->log_bytes_at_commit >= o.checkpoint_log_bytes) {
    return true;
  }
  return o.checkpoint_interval.count() > 0 &&
         std::chrono::steady_clock::now() - durable_->first_dirty >= o.checkpoint_interval;
}

result<void> store_impl::make_room_locked(const log_entry& entry, bool& commit_instead) noexcept {
  if (!pool_) return durable_->log->reserve(oplog::encoded_size(entry.key.size(), entry.value.size()));
  const std::size_t footprint = pmem::pool_log::footprint(entry.key.size(), entry.value.size());
  const bool unloggable_batch =
      entry.kind == oplog::op_kind::batch && (pool_->root().incompat_features & pmem::pool_batch_records) == 0;
  if (unloggable_batch || !durable_->pool_log->ever_fits(footprint)) {
    commit_instead = true;
    return {};
  }
  if (durable_->pool_log->fits(footprint)) return {};
  return commit_locked(0);  // empties the log area
}

result<std::uint64_t> store_impl::append_locked(const log_entry& entry, durability d, bool commit_instead) noexcept {
  if (!pool_) return durable_->log->append(entry.kind, entry.key, entry.value);
  pmem::pool_log& log = *durable_->pool_log;
  if (commit_instead) return log.skip();
  const std::uint64_t seq = log.append(entry.kind, entry.key, entry.value);
  // Flushes and a drain on pmem: cheap enough to do under the mutex, so there is nothing to group.
  if (d != durability::none) {
    if (auto ok = log.sync(); !ok) {
      durable_->failed = ok.error();
      return tl::unexpected(std::move(ok.error()));
    }
  }
  return seq;
}

result<void> store_impl::sync_log(std::uint64_t seq) noexcept {
  if (auto ok = durable_->log->sync_through(seq); !ok) {
    std::lock_guard lock(durable_->mutex);
    // The log is poisoned: a failed sync cannot be retried safely.
    if (!durable_->failed) durable_->failed = ok.error();
    return ok;
  }
  return {};
}

result<void> store_impl::commit_locked(std::uint64_t flags, free_table_ref table) noexcept {
  wait_for_commit_in_flight_locked();
  if (!durable_->dirty && flags == 0) return {};
  if (auto ok = writable_locked(); !ok) return ok;
  return pool_ ? commit_pool_locked(flags) : commit_file_locked(flags, table, false);
}

void store_impl::wait_for_commit_in_flight_locked() noexcept {
  while (durable_->commit_in_flight) durable_->commit_ended.wait(durable_->mutex);
}

void store_impl::wait_for_checkpointer_locked() noexcept {
  while (durable_->checkpoint_requested || durable_->commit_in_flight || tree_.reclaiming_in_slices()) {
    durable_->commit_ended.wait(durable_->mutex);
  }
}

void store_impl::wait_for_reclaim_locked() noexcept {
  while (tree_.reclaiming_in_slices()) durable_->commit_ended.wait(durable_->mutex);
}

result<void> store_impl::checkpoint_by_policy_locked() noexcept {
  if (checkpointer_ && !pool_) {
    // One on its way covers this write too; a commit in flight measures the policy from its freeze.
    if (durable_->checkpoint_requested || durable_->commit_in_flight) return {};
    if (checkpointer_->request()) {
      durable_->checkpoint_requested = true;
      return {};
    }
  }
  return commit_locked(0);  // a pmem store, or a checkpointer that stopped (closing) or has no thread
}

void store_impl::checkpoint_in_background() noexcept {
  std::lock_guard lock(durable_->mutex);
  durable_->checkpoint_requested = false;
  // A failure sets `failed` (or, from a test's hook, leaves the writes for the next commit); the next
  // write reports it.
  if (!durable_->closed && durable_->dirty && !durable_->commit_in_flight && writable_locked()) {
    (void)commit_file_locked(0, {}, true);
  }
  durable_->commit_ended.notify_all();
}

result<void> store_impl::commit_file_locked(std::uint64_t flags, free_table_ref table, bool unlocked_io) noexcept {
  // The meta slot the commit overwrites holds the commit before the last; records after the last commit
  // must stay in the log, for falling back to it if the new meta slot is ever found damaged.
  const std::uint64_t keep_after = durable_->committer->durable().at_seq;
  const std::uint64_t leaf_bytes = tree_.leaf_bytes();
  const index::frozen_root frozen = tree_.freeze();
  commit_request req = request_for(*mapped_, frozen, leaf_bytes, durable_->log->last_seq());
  req.flags = flags;
  req.free_table = table.offset;
  req.free_table_bytes = table.bytes;
  req.sealed_through = unsealed_after_;
  // What is written from here on is the next commit's: the policy measures from this freeze.
  const bool was_dirty = durable_->dirty;
  const std::uint64_t log_bytes_at_freeze = durable_->log->retained_bytes();
  durable_->dirty = false;
  durable_->log_bytes_at_commit = log_bytes_at_freeze;
  unsealed_after_ = UINT64_MAX;
  result<int> slot;
  if (unlocked_io) {
    // Writers go on meanwhile: the frozen root's blocks are immutable, reclaims keep them (in_flight_epoch),
    // and every other commit waits for this one (commit_locked).
    durable_->commit_in_flight = true;
    durable_->in_flight_epoch = frozen.epoch;
    const mutex_released unlocked(durable_->mutex);
    slot = durable_->committer->write(*mapped_, req);
  } else {
    slot = durable_->committer->write(*mapped_, req);
  }
  if (!slot) {
    // A failed sync cannot be retried safely (the kernel may have dropped the dirty pages), so the store
    // stops taking writes; the previous durable commit is intact and reopening recovers it.
    if (slot.error().code() != errc::aborted) durable_->failed = slot.error();
    if (was_dirty && !durable_->dirty) {
      durable_->dirty = true;
      durable_->first_dirty = std::chrono::steady_clock::now();
    }
    unsealed_after_ = std::min(unsealed_after_, req.sealed_through);
    end_commit_in_flight_locked();
    return tl::unexpected(std::move(slot.error()));
  }
  durable_->committer->adopt(*slot);
  // The commit is the version published() returns now, unless a newer one was published while it was in
  // flight; the one it replaces goes when its readers let go. (Out of memory only skips this publication.)
  (void)publish_frozen(frozen, leaf_bytes, req.at_seq);
  // The log before the older of the two meta slots is no longer needed. A failure to delete a file only
  // keeps it; the next commit retries. What it deletes was before the freeze. Deleting segments and
  // syncing the directory took 15-22 ms under the mutex (docs/benchmarks.md §Checkpoint stalls); the log
  // writer lets it run beside appends, and the commit stays in flight, so no other commit drops at once.
  const std::uint64_t before_drop = durable_->log->retained_bytes();
  if (unlocked_io) {
    const mutex_released unlocked(durable_->mutex);
    (void)durable_->log->drop_through(keep_after);
  } else {
    (void)durable_->log->drop_through(keep_after);
  }
  const std::uint64_t dropped = before_drop - std::min(before_drop, durable_->log->retained_bytes());
  durable_->log_bytes_at_commit -= std::min(dropped, durable_->log_bytes_at_commit);
  end_commit_in_flight_locked();
  // Retired blocks neither the new durable tree nor a snapshot can reach are garbage now. The other meta
  // slot still names the previous tree, but open falls back to it only after verifying every block's checksum.
  if (unlocked_io) {
    reclaim_in_slices_locked(frozen.epoch);
  } else {
    reclaim_after_commit(frozen.epoch);
  }
  return {};
}

void store_impl::end_commit_in_flight_locked() noexcept {
  if (!durable_->commit_in_flight) return;
  durable_->commit_in_flight = false;
  durable_->commit_ended.notify_all();
}

void store_impl::reclaim_in_slices_locked(std::uint64_t committed) noexcept {
  // A commit after a stream of overwrites frees hundreds of thousands of blocks: each a cache miss to read
  // its size and one to link it into a free list -- 60-80 ms in one piece under the mutex. In slices, the
  // lines of the next slice are requested with the mutex released (the blocks are retired: nothing writes
  // them), and the checkpointer sleeps a moment before taking it back: a writer woken by the unlock takes
  // microseconds to run, and without the pause found the mutex taken again, slice after slice, for the
  // whole reclaim (writes stalled 45-50 ms).
  constexpr std::size_t slice = 512;
  constexpr std::chrono::microseconds pause{20};
  try {
    std::vector<std::uint64_t> pinned{committed};
    if (snapshots_) pinned = snapshots_->live_epochs(pinned);
    if (!tree_.begin_reclaim(pinned)) return;
  } catch (...) {
    return;  // out of memory listing the epochs: the next reclaim frees them
  }
  std::vector<const std::byte*> next;
  try {
    next.reserve(slice);
  } catch (...) {
    // No room to list them: slices without bringing the lines in first.
  }
  do {
    tree_.next_slice_blocks(slice, next);
    const mutex_released unlocked(durable_->mutex);
    for (const std::byte* block : next) prefetch_for_write(block);
    std::this_thread::sleep_for(pause);
  } while (tree_.reclaim_slice(slice));
  durable_->commit_ended.notify_all();
}

result<void> store_impl::close_locked() noexcept {
  unpublish();  // nothing reads new versions of a closed store
  // Blocks that live snapshots pin are neither reachable nor free: a clean close cannot account for them.
  // Leave them to the next open (a pool's audit frees them; a file's tree walk leaves them free).
  const bool pinned = live_snapshots() > 0;
  if (pool_) return commit_locked(pinned ? std::uint64_t{0} : std::uint64_t{pmem::pool_clean_close});
  if (pinned) {
    if (auto ok = commit_locked(0); !ok) return ok;
    return commit_locked(mmap::clean_close);  // clean, without a free table: the next open walks the tree
  }
  // 1. The tree as it is. Its commit frees every retired block it stops reaching, so the allocator's free
  //    lists are now exactly what the tree does not use.
  if (auto ok = commit_locked(0); !ok) return ok;
  // 2. Record them. Without room for the record, close is still clean; the next open walks the tree.
  auto table = write_free_table(*mapped_);
  if (!table) return commit_locked(mmap::clean_close);
  // 3. The same tree again, with the record. It overwrites the slot of the commit before step 1, whose
  //    blocks the table lists as free.
  return commit_locked(mmap::clean_close, *table);
}

}  // namespace tessel::detail
