// Snapshots (include/tessel/snapshot.hpp): taking one freezes the live tree and registers its epoch;
// reading one reads its frozen root; releasing one unregisters it, and the writer's next reclaim frees what
// only it reached; restoring one retires what the live tree added since and adopts its root.
#include "tessel/snapshot.hpp"

#include <string>
#include <utility>

#include "tessel/limits.hpp"
#include "tessel/store.hpp"

#include "index/tree_walk.hpp"
#include "store/argument_checks.hpp"
#include "store/store_impl.hpp"

namespace tessel {

// ---- store ----

result<tessel::snapshot> store::snapshot() noexcept {
  detail::durable_state* d = impl_->durable();
  auto taken = [&] {
    if (d == nullptr) return impl_->take_snapshot();
    std::lock_guard lock(d->mutex);
    return impl_->take_snapshot();
  }();
  if (!taken) return tl::unexpected(std::move(taken.error()));
  return tessel::snapshot(std::move(*taken));
}

result<void> store::restore(const tessel::snapshot& snap) noexcept {
  if (!snap.valid()) return make_error(errc::invalid_argument, "restore of an empty snapshot handle");
  if (snap.state_->tree != &impl_->tree()) {
    return make_error(errc::invalid_argument, "restore of a snapshot taken from another store");
  }
  detail::durable_state* d = impl_->durable();
  if (d == nullptr) {
    if (auto ok = impl_->restore_snapshot(*snap.state_); !ok) return ok;
    impl_->maybe_reclaim();
    return {};
  }
  std::lock_guard lock(d->mutex);
  impl_->wait_for_reclaim_locked();  // the checkpointer's reclaim in slices must not see a restore
  if (d->opts.read_only) return make_error(errc::not_supported, "the store is open read-only");
  if (d->closed) return make_error(errc::not_supported, "the store is closed");
  if (auto ok = impl_->restore_snapshot(*snap.state_); !ok) return ok;
  // No log record can say "restore": commit now, so recovery starts from the restored tree.
  d->dirty = true;
  return impl_->commit_locked(0);
}

result<void> store::publish() noexcept {
  detail::durable_state* d = impl_->durable();
  auto publish = [&]() -> result<void> {
    const std::size_t leaf_bytes = impl_->tree().leaf_bytes();
    const std::uint64_t at_seq = impl_->last_seq();
    return impl_->publish_frozen(impl_->tree().freeze(), leaf_bytes, at_seq);
  };
  if (d == nullptr) return publish();
  std::lock_guard lock(d->mutex);
  return publish();
}

tessel::snapshot store::published() const noexcept { return tessel::snapshot(impl_->published()); }

// ---- snapshot ----

result<value_view> snapshot::get(key_view key) const noexcept {
  if (auto ok = detail::check_key(key); !ok) return tl::unexpected(std::move(ok.error()));
  if (!state_) return tl::unexpected(error(errc::not_found));
  if (auto v = state_->tree->find(state_->root, key)) return *v;
  return tl::unexpected(error(errc::not_found));
}

result<std::string> snapshot::get_string(std::string_view key) const noexcept {
  return detail::copy_value(get(as_bytes(key)));
}

bool snapshot::contains(key_view key) const noexcept {
  return state_ && key.size() <= max_key_size && state_->tree->find(state_->root, key).has_value();
}

cursor snapshot::new_cursor() const noexcept {
  if (!state_) return cursor(nullptr);
  return cursor(std::make_unique<detail::cursor_impl>(*state_->tree, state_->root, state_));
}

scan_range snapshot::prefix_scan(key_view prefix) const noexcept {
  return scan_range::with_prefix(new_cursor(), prefix);
}

scan_range snapshot::range_scan(key_view start, key_view end) const noexcept {
  return scan_range::in_range(new_cursor(), start, end);
}

std::size_t snapshot::len() const noexcept { return state_ ? state_->root.size : 0; }

std::size_t snapshot::leaf_bytes() const noexcept { return state_ ? state_->leaf_bytes : 0; }

std::size_t snapshot::size_bytes() const noexcept {
  if (!state_) return 0;
  std::size_t bytes = state_->size_bytes.load(std::memory_order_relaxed);
  if (bytes != detail::snapshot_state::unknown) return bytes;
  bytes = 0;
  // A frozen version is trusted memory of this process: the bounds only have to admit every block.
  (void)index::walk_blocks(state_->tree->region().base(), state_->root.root, {1, UINT64_MAX}, 0,
                           [&](index::node_ref, std::size_t size) { bytes += size; });
  state_->size_bytes.store(bytes, std::memory_order_relaxed);
  return bytes;
}

std::uint64_t snapshot::epoch() const noexcept { return state_ ? state_->root.epoch : 0; }

std::uint64_t snapshot::at_seq() const noexcept { return state_ ? state_->at_seq : 0; }

}  // namespace tessel

namespace tessel::detail {

result<std::shared_ptr<snapshot_state>> store_impl::take_snapshot() noexcept {
  auto state = register_snapshot_state(snapshots_, tree_.epoch());  // the epoch freeze() gives the root
  if (!state) return state;
  (*state)->tree = &tree_;
  (*state)->leaf_bytes = tree_.leaf_bytes();
  if (durable_) {
    (*state)->durable_epoch = durable_epoch();
    (*state)->at_seq = last_seq();
  }
  (*state)->root = tree_.freeze();
  return state;
}

result<void> store_impl::publish_frozen(const index::frozen_root& at, std::size_t leaf_bytes,
                                        std::uint64_t at_seq) noexcept {
  if (const auto current = published(); current && current->root.epoch > at.epoch) return {};
  auto state = register_snapshot_state(snapshots_, at.epoch);
  if (!state) return tl::unexpected(std::move(state.error()));
  (*state)->tree = &tree_;
  (*state)->root = at;
  (*state)->leaf_bytes = leaf_bytes;
  if (durable_) {
    (*state)->durable_epoch = durable_epoch();
    (*state)->at_seq = at_seq;
  }
  replace_published(std::move(*state));
  return {};
}

result<void> store_impl::restore_snapshot(const snapshot_state& snap) noexcept {
  if (auto ok = tree_.restore(snap.root, snap.leaf_bytes); !ok) return ok;
  // A file's commit seals only blocks born after the last durable epoch; the restored tree may hold the
  // snapshot's blocks born after the commit before it, never sealed if no commit reached them. (A pool's
  // commit seals and publishes every reservation, reachable or only pinned, so it needs nothing.)
  if (durable_ && mapped_) unsealed_after_ = std::min(unsealed_after_, snap.durable_epoch);
  return {};
}

void store_impl::reclaim_if_due() noexcept {
  // A reclaim scans every retired block, so it runs once the retired list has doubled since the last one
  // (amortised O(1) per write), and right after the last snapshot goes (then it frees nearly everything).
  const bool last_released = snapshots_->take_released() && snapshots_->count() == 0;
  if (!last_released && tree_.retired_count() < reclaim_at_) return;
  reclaim_unpinned();
  reclaim_at_ = std::max(min_reclaim_batch, 2 * tree_.retired_count());
}

void store_impl::reclaim_unpinned() noexcept {
  try {
    std::vector<std::uint64_t> pinned;
    if (durable_) pinned.push_back(durable_epoch());
    // The checkpointer's frozen root, whose blocks it is sealing and writing with the mutex released.
    if (durable_ && durable_->commit_in_flight) pinned.push_back(durable_->in_flight_epoch);
    tree_.reclaim(snapshots_ ? snapshots_->live_epochs(pinned) : pinned);
  } catch (...) {
    // Out of memory listing the epochs: keep everything; the next reclaim tries again.
  }
}

void store_impl::reclaim_after_commit(std::uint64_t committed) noexcept {
  try {
    const std::vector<std::uint64_t> pinned{committed};
    tree_.reclaim(snapshots_ ? snapshots_->live_epochs(pinned) : pinned);
  } catch (...) {
    // As above: nothing is freed this time.
  }
}

}  // namespace tessel::detail
