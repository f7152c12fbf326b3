// The commit of a pmem store (docs/design.md §pmem stores):
//
//   1. seal: fill in the block header {size, checksum32} of every object reserved in the frozen epoch --
//      exactly the blocks born since the last publish, so no tree walk is needed;
//   2. persist them: cache-line flushes and one drain on pmem (msync of their pages on a regular file);
//   3. reclaim: blocks the frozen root no longer reaches become deferred frees;
//   4. publish, in one pmemobj_publish, the reservations, the deferred frees and the new meta (root, epoch,
//      at_seq, ...) in the root object.
// Until 4 completes the pool holds the previous commit whole: reservations are transient (a crash drops
// them) and libpmemobj's redo log applies a publish entirely or not at all. A block freed in 4 is one the
// new tree cannot reach, so nothing durable ever points at freed memory. After 4 the operation log area
// starts over: every record in it is at or below the published at_seq.
#include <utility>
#include <vector>

#include "common/wall_clock.hpp"
#include "store/block_header.hpp"
#include "store/store_impl.hpp"

namespace tessel::detail {

result<void> store_impl::commit_pool_locked(std::uint64_t flags) noexcept {
  const commit_hook& hook = durable_->pool_hook;
  auto stop = [&](commit_step s) { return hook && !hook(s); };
  if (stop(commit_step::seal)) return make_error(errc::aborted, "commit stopped before sealing (test hook)");
  const index::frozen_root frozen = tree_.freeze();
  std::byte* const base = pool_->base();
  for (const pmem::pool_range& object : pool_->new_blocks()) {
    seal_block(base, object.offset + block_header_bytes, object.size - block_header_bytes);
  }

  // Durable point 1: the new blocks. Nothing durable reaches them yet.
  if (stop(commit_step::persist_blocks)) {
    return make_error(errc::aborted, "commit stopped before persisting blocks (test hook)");
  }
  if (auto ok = pool_->persist(pool_->new_blocks()); !ok) {
    durable_->failed = ok.error();
    return ok;
  }

  // Retired blocks the frozen root cannot reach are freed by the same publish that stops reaching them.
  // The frozen root becomes the version published() returns first, so the version it replaces is released
  // and what only that one reached is freed by this publish. (Out of memory only skips the publication.)
  (void)publish_frozen(frozen, tree_.leaf_bytes(), last_seq());
  reclaim_after_commit(frozen.epoch);

  // Durable point 2: the publish swings the root and applies every allocation and free at once.
  if (stop(commit_step::write_meta)) return make_error(errc::aborted, "commit stopped before publishing (test hook)");
  const pmem::pool_meta& last = pool_->root().meta;
  pmem::pool_meta m;
  m.generation = last.generation + 1;
  m.root = frozen.root.bits();
  m.epoch = frozen.epoch;
  m.key_count = frozen.size;
  m.leaf_bytes = tree_.leaf_bytes();
  m.at_seq = durable_->pool_log->last_seq();
  m.allocated_bytes = pool_->usage().live_bytes;
  m.committed_unix_ns = unix_time_ns();
  m.flags = flags;
  // The spare is released for the publish: libpmemobj may need heap space for its redo log.
  pool_->release_spare();
  auto published = pool_->publish(m);
  pool_->hold_spare();
  if (!published) {
    // The tree already counts the frees as done; only reopening gets back to a state both agree on.
    durable_->failed = published.error();
    return published;
  }
  durable_->pool_log->restart();
  durable_->dirty = false;
  return {};
}

}  // namespace tessel::detail
