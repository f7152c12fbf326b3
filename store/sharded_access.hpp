// Tests' access to a sharded store's internals (include/tessel/sharded_store.hpp names it a friend), as
// store_access (store/store_impl.hpp) is to a store's.
//
// Thread safety: call while no other thread uses the store.
#pragma once

#include <memory>

#include "tessel/sharded_store.hpp"

#include "store/sharded_impl.hpp"
#include "store/store_impl.hpp"

namespace tessel::detail {

struct sharded_access {
  /// Drops a durable sharded store as a crash would: every shard abandoned (store_access::abandon), and
  /// the coordinator log closed without writing, syncing or deleting anything, so that destroying the
  /// store (whose close would otherwise delete the coordinator's segments) leaves what a crash leaves --
  /// with options.simulate_power_loss, exactly what was made durable.
  static void abandon(std::unique_ptr<sharded_store> s) noexcept {
    if (s->impl_->trimmer) s->impl_->trimmer->stop();  // it would flush and delete after the crash
    for (const auto& shard : s->impl_->shards) store_access::abandon_owned(*shard);
    s->impl_->coordinator.reset();
  }
  /// Marks the store as after a cross-shard batch that failed past its commit point (which needs a part
  /// to run out of room after reserve_room made room: no fault hook reaches it).
  static void fail_batches(sharded_store& s, const error& cause) {
    std::lock_guard lock(s.impl_->failed_mutex);
    s.impl_->failed = cause;
  }
};

}  // namespace tessel::detail
