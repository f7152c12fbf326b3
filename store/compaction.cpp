// store::compact: the live tree rebuilt in key order (index/art_sorted_loader.hpp, art::compact).
//
// *Why:* random inserts put each leaf wherever the allocator had room, so an ordered scan of a large store
// waits on a random DRAM line per key (about 50 ns on the project's host at 10M keys). A tree rebuilt from
// its own ordered entries has its leaves nearly in address order, which the hardware prefetcher streams.
#include <chrono>
#include <functional>
#include <mutex>

#include "store/store_impl.hpp"

namespace tessel::detail {

result<void> store_impl::compact(const std::function<void(std::uint64_t)>& progress) noexcept {
  if (durable_ == nullptr) {
    if (auto ok = tree_.compact(progress); !ok) return ok;
    maybe_reclaim();
    return {};
  }
  std::lock_guard lock(durable_->mutex);
  if (auto ok = writable_locked(); !ok) return ok;
  if (pool_ != nullptr) {
    // The new tree's blocks would all be pmemobj reservations until the one publish at the end: the pool
    // bounds those (checkpoint policy), and a rebuild of a large store would exceed any bound.
    return make_error(errc::not_supported,
                      "compacting a pmem store: its reservations are published in bounded batches");
  }
  if (auto ok = tree_.compact(progress); !ok) return ok;
  // No log record describes a compaction, and none is needed: the contents are the same, so recovery from
  // the old durable tree and the log finds what this tree holds. The commit makes the new layout the
  // durable one and frees the old blocks once no commit reaches them.
  if (!durable_->dirty) durable_->first_dirty = std::chrono::steady_clock::now();
  durable_->dirty = true;
  return commit_locked(0);
}

}  // namespace tessel::detail
