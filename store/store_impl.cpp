#include "store/store_impl.hpp"

#include <utility>

#include "store/block_header.hpp"

namespace tessel::detail {

namespace {

/// Actions a pmem store lets wait for one publish: a publish costs about 0.3 us per action, so this bounds
/// a checkpoint's stall near 20 ms.
constexpr std::size_t max_pending_pool_actions = 1 << 16;

}  // namespace

store_impl::store_impl(std::unique_ptr<mmap::mapped_region> region, std::unique_ptr<durable_state> durable) noexcept
    : durable_(std::move(durable)), mapped_(std::move(region)), region_(*mapped_), tree_(region_) {
  const mmap::meta_slot& m = durable_->recovery.meta;
  tree_.adopt({index::node_ref::from_bits(m.root), m.epoch, m.key_count}, m.leaf_bytes);
  verify_reads_ = durable_->opts.verify_checksums_on_read;
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
  if (!durable_->dirty && flags == 0) return {};
  if (auto ok = writable_locked(); !ok) return ok;
  return pool_ ? commit_pool_locked(flags) : commit_file_locked(flags, table);
}

result<void> store_impl::commit_file_locked(std::uint64_t flags, free_table_ref table) noexcept {
  // The meta slot the commit overwrites holds the commit before the last; records after the last commit
  // must stay in the log, for falling back to it if the new meta slot is ever found damaged.
  const std::uint64_t keep_after = durable_->committer->durable().at_seq;
  const index::frozen_root frozen = tree_.freeze();
  auto ok = durable_->committer->commit(*mapped_, {frozen, tree_.leaf_bytes(), durable_->log->last_seq(), flags,
                                                   table.offset, table.bytes, unsealed_after_});
  if (!ok) {
    // A failed sync cannot be retried safely (the kernel may have dropped the dirty pages), so the store
    // stops taking writes; the previous durable commit is intact and reopening recovers it.
    if (ok.error().code() != errc::aborted) durable_->failed = ok.error();
    return ok;
  }
  durable_->dirty = false;
  unsealed_after_ = UINT64_MAX;
  // The log before the older of the two meta slots is no longer needed. A failure to delete a file only
  // keeps it; the next commit retries.
  (void)durable_->log->drop_through(keep_after);
  durable_->log_bytes_at_commit = durable_->log->retained_bytes();
  // The commit is the version published() returns now; the one it replaces goes when its readers let go.
  // (Out of memory only skips this publication.)
  (void)publish_frozen(frozen, tree_.leaf_bytes());
  // Retired blocks neither the new durable tree nor a snapshot can reach are garbage now. The other meta
  // slot still names the previous tree, but open falls back to it only after verifying every block's checksum.
  reclaim_after_commit(frozen.epoch);
  return {};
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
