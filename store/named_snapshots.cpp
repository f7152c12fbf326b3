// Named snapshots (store.hpp): a committed version kept under a name. In memory a name is a held
// snapshot_state, so reclaim keeps exactly the blocks the version reaches; on disk it is a record in the
// store's snapshot catalog (store/snapshot_catalog.hpp), and open re-pins it (adopt_named_snapshots).
//
// Crash safety rests on two orders (docs/design.md §Named snapshots): create writes the catalog only after
// the commit of the version it names is durable; drop releases the version's blocks only after the catalog
// without it is durable.
#include <algorithm>
#include <utility>

#include "tessel/store.hpp"

#include "common/wall_clock.hpp"
#include "store/store_impl.hpp"

namespace tessel {

result<named_snapshot_info> store::create_named_snapshot(std::string_view name) noexcept {
  detail::durable_state* d = impl_->durable();
  if (d == nullptr) return impl_->create_named(name);
  std::lock_guard lock(d->mutex);
  return impl_->create_named(name);
}

result<std::vector<named_snapshot_info>> store::named_snapshots() const noexcept {
  try {
    return impl_->named_list();
  } catch (...) {
    return make_error(errc::no_memory, "listing the named snapshots");
  }
}

result<tessel::snapshot> store::open_named_snapshot(std::string_view name) const noexcept {
  auto state = impl_->find_named(name);
  if (!state) return make_error(errc::not_found, "no snapshot is named '" + std::string(name) + "'");
  return tessel::snapshot(std::move(state));
}

result<void> store::drop_named_snapshot(std::string_view name) noexcept {
  detail::durable_state* d = impl_->durable();
  if (d == nullptr) return impl_->drop_named(name);
  std::lock_guard lock(d->mutex);
  return impl_->drop_named(name);
}

}  // namespace tessel

namespace tessel::detail {

namespace {

named_snapshot_info info_of(const named_snapshot_record& r) {
  return {r.name, r.epoch, r.at_seq, r.key_count, r.leaf_bytes, r.created_unix_ns};
}

}  // namespace

result<void> store_impl::adopt_named_snapshots(std::vector<named_snapshot_record> records,
                                               std::span<const named_only_block> only) noexcept {
  if (records.empty()) return {};
  try {
    std::vector<index::unreached_block> retired;
    retired.reserve(only.size());
    // A block is reachable from frozen roots born after it and up to the newest named snapshot reaching it.
    for (const named_only_block& b : only) retired.push_back({b.ref, b.last_epoch + 1});
    if (auto ok = tree_.adopt_retired(retired); !ok) return ok;
    std::uint64_t newest = 0;
    std::vector<named_entry> entries;
    for (named_snapshot_record& r : records) {
      auto state = register_snapshot_state(snapshots_, r.epoch);
      if (!state) return tl::unexpected(std::move(state.error()));
      (*state)->tree = &tree_;
      (*state)->root = {index::node_ref::from_bits(r.root), r.epoch, r.key_count};
      (*state)->leaf_bytes = r.leaf_bytes;
      (*state)->durable_epoch = r.epoch;  // it was committed, so sealed
      (*state)->at_seq = r.at_seq;
      newest = std::max(newest, r.epoch);
      entries.push_back({std::move(r), std::move(*state)});
    }
    tree_.open_epoch_after(newest);
    std::lock_guard lock(named_mutex_);
    named_ = std::move(entries);
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "adopting the named snapshots");
  }
}

result<named_snapshot_info> store_impl::create_named(std::string_view name) noexcept {
  if (auto ok = check_snapshot_name(name); !ok) return tl::unexpected(std::move(ok.error()));
  if (durable_) {
    if (auto ok = writable_locked(); !ok) return tl::unexpected(std::move(ok.error()));
  }
  if (find_named(name)) {
    return make_error(errc::invalid_argument, "a snapshot named '" + std::string(name) + "' exists already");
  }
  try {
    named_snapshot_record record;
    record.name.assign(name);
    record.created_unix_ns = unix_time_ns();
    std::shared_ptr<snapshot_state> state;
    if (!durable_) {
      auto taken = take_snapshot();
      if (!taken) return tl::unexpected(std::move(taken.error()));
      state = std::move(*taken);
    } else {
      // The version named is a commit's, so every block of it is sealed and durable before the catalog
      // names it. A commit even when nothing changed: the name needs the live tree frozen.
      durable_->dirty = true;
      if (auto ok = commit_locked(0); !ok) return tl::unexpected(std::move(ok.error()));
      auto registered = register_snapshot_state(snapshots_, durable_epoch());
      if (!registered) return tl::unexpected(std::move(registered.error()));
      state = std::move(*registered);
      // The pool's root object and a file's meta slot name the commit with the same fields.
      auto from_commit = [&](const auto& meta) {
        state->root = {index::node_ref::from_bits(meta.root), meta.epoch, meta.key_count};
        state->leaf_bytes = meta.leaf_bytes;
        state->at_seq = meta.at_seq;
      };
      if (pool_) {
        from_commit(pool_->root().meta);
      } else {
        from_commit(durable_->committer->durable());
      }
      state->tree = &tree_;
      state->durable_epoch = state->root.epoch;
    }
    record.root = state->root.root.bits();
    record.epoch = state->root.epoch;
    record.key_count = state->root.size;
    record.leaf_bytes = state->leaf_bytes;
    record.at_seq = state->at_seq;
    std::vector<named_snapshot_record> catalog = records_except(nullptr);
    catalog.push_back(record);
    // Durable point: the catalog naming it. Before this the name does not exist (the commit is harmless).
    if (auto ok = persist_catalog(catalog); !ok) return tl::unexpected(std::move(ok.error()));
    named_snapshot_info info = info_of(record);
    std::lock_guard lock(named_mutex_);
    named_.push_back({std::move(record), std::move(state)});
    return info;
  } catch (...) {
    return make_error(errc::no_memory, "creating a named snapshot");
  }
}

result<void> store_impl::drop_named(std::string_view name) noexcept {
  if (durable_) {
    if (auto ok = writable_locked(); !ok) return ok;
  }
  const auto it =
      std::find_if(named_.begin(), named_.end(), [&](const named_entry& e) { return e.record.name == name; });
  if (it == named_.end()) return make_error(errc::not_found, "no snapshot is named '" + std::string(name) + "'");
  try {
    // Durable point: the catalog without it. Only then may its blocks be freed and reused.
    if (auto ok = persist_catalog(records_except(&*it)); !ok) return ok;
  } catch (...) {
    return make_error(errc::no_memory, "dropping a named snapshot");
  }
  std::shared_ptr<snapshot_state> released;
  {
    std::lock_guard lock(named_mutex_);
    released = std::move(it->state);
    named_.erase(it);
  }
  released.reset();    // unregisters the epoch unless a handle still holds it
  reclaim_unpinned();  // a drop is asked for to get the space back
  return {};
}

std::vector<named_snapshot_record> store_impl::records_except(const named_entry* skip) const {
  std::vector<named_snapshot_record> out;
  for (const named_entry& e : named_) {
    if (&e != skip) out.push_back(e.record);
  }
  return out;
}

result<void> store_impl::persist_catalog(std::span<const named_snapshot_record> records) const noexcept {
  if (!durable_) return {};  // a dram store keeps its names in memory only
  return write_snapshot_catalog(durable_->directory, durable_->store_id, records, durable_->opts.file_mode);
}

std::vector<named_snapshot_info> store_impl::named_list() const {
  std::vector<named_snapshot_info> out;
  {
    std::lock_guard lock(named_mutex_);
    for (const named_entry& e : named_) out.push_back(info_of(e.record));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::shared_ptr<snapshot_state> store_impl::find_named(std::string_view name) const noexcept {
  std::lock_guard lock(named_mutex_);
  for (const named_entry& e : named_) {
    if (e.record.name == name) return e.state;
  }
  return nullptr;
}

}  // namespace tessel::detail
