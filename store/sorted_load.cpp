// Loads that must be all or nothing (checkpoint import, `tessel load`): store_impl::load_sorted fills an
// empty store bottom-up from entries in key order, store_impl::put_unlogged puts one entry; neither logs,
// so the next commit is what makes them durable.
#include <chrono>
#include <mutex>

#include "store/argument_checks.hpp"
#include "store/store_impl.hpp"

namespace tessel::detail {

result<void> store_impl::load_sorted(function_ref<result<void>(sorted_sink)> produce) noexcept {
  auto build = [&]() -> result<void> {
    store_tree::sorted_loader loader(tree_);
    // The size limits, as a put checks them: a key longer than a reference can measure would corrupt the tree.
    auto add = [&](key_view k, value_view v) -> result<void> {
      if (auto ok = check_entry(k, v); !ok) return ok;
      return loader.add(k, v);
    };
    if (auto ok = produce(add); !ok) return ok;
    return loader.finish();  // on any error the loader's destructor frees what it built
  };
  // Checked here, under the writer's exclusion: a caller's earlier look may be stale, and a loader's root
  // would replace the tree's without freeing it.
  auto empty = [&]() -> result<void> {
    if (tree_.root().is_empty()) return {};
    return make_error(errc::invalid_argument, "a sorted load into a store that is not empty");
  };
  if (durable_ == nullptr) {
    if (auto ok = empty(); !ok) return ok;
    return build();
  }
  std::lock_guard lock(durable_->mutex);
  if (auto ok = writable_locked(); !ok) return ok;
  if (auto ok = empty(); !ok) return ok;
  if (auto ok = build(); !ok) return ok;
  // No log record describes the load: the next commit (the caller's checkpoint or close, or the policy's
  // after a later write) is its only record, and a crash before it finds the store as it was.
  if (tree_.size() != 0) {
    if (!durable_->dirty) durable_->first_dirty = std::chrono::steady_clock::now();
    durable_->dirty = true;
  }
  return {};
}

result<void> store_impl::put_unlogged(key_view key, value_view value) noexcept {
  if (auto ok = check_entry(key, value); !ok) return ok;
  std::lock_guard lock(durable_->mutex);
  if (auto ok = writable_locked(); !ok) return ok;
  if (auto r = tree_.upsert(key, value); !r) return tl::unexpected(std::move(r.error()));
  maybe_reclaim();
  if (!durable_->dirty) durable_->first_dirty = std::chrono::steady_clock::now();
  durable_->dirty = true;
  return {};
}

}  // namespace tessel::detail
