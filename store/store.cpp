// tessel::store over one DRAM tree: argument checks, error translation, and the typed and scan helpers.
#include "tessel/store.hpp"

#include <string>
#include <utility>

#include "store/argument_checks.hpp"
#include "store/deferred_sync.hpp"
#include "store/log_recovery.hpp"
#include "store/store_impl.hpp"

namespace tessel {

using detail::check_entry;
using detail::check_key;

store::store(std::unique_ptr<detail::store_impl> impl) noexcept : impl_(std::move(impl)) {}

store::~store() {
  if (impl_) (void)close();
}

result<std::unique_ptr<store>> store::open(const options& opts) noexcept {
  if (opts.backend != backend::dram) {
    return make_error(errc::invalid_argument, "backend " + std::to_string(static_cast<int>(opts.backend)) +
                                                  " keeps its data in files; open it with store::open(path, options)");
  }
  auto region = mmap::mapped_region::create_anonymous(opts.reserve_bytes, opts.huge_pages);
  if (!region) return tl::unexpected(region.error());
  try {
    auto impl = std::make_unique<detail::store_impl>(std::move(*region));
    return std::unique_ptr<store>(new store(std::move(impl)));
  } catch (...) {
    return make_error(errc::no_memory, "allocating the store");
  }
}

namespace {

/// The durability of writes that name none: the store's (durable stores), none (dram).
durability own_durability(const detail::store_impl& impl) noexcept {
  const detail::durable_state* d = impl.durable();
  return d != nullptr ? d->opts.durability : durability::none;
}

/// store::put, leaving the log sync it owes in `sync_left` when that is set (store_impl::durable_write).
result<void> put_in(detail::store_impl& impl, key_view key, value_view value, durability level,
                    std::uint64_t* sync_left) noexcept {
  if (auto ok = check_entry(key, value); !ok) return ok;
  auto apply = [&]() -> result<void> {
    auto r = impl.tree().upsert(key, value);
    if (!r) return tl::unexpected(std::move(r.error()));
    return {};
  };
  if (impl.durable() == nullptr) {
    auto r = apply();
    impl.maybe_reclaim();
    return r;
  }
  return impl.durable_write(level, {oplog::op_kind::put, key, value}, apply, sync_left);
}

/// store::erase, likewise.
result<bool> erase_in(detail::store_impl& impl, key_view key, durability level, std::uint64_t* sync_left) noexcept {
  if (auto ok = check_key(key); !ok) return tl::unexpected(std::move(ok.error()));
  if (impl.durable() == nullptr) {
    auto r = impl.tree().erase(key);
    impl.maybe_reclaim();
    return r;
  }
  return impl.durable_write(
      level, {oplog::op_kind::erase, key, {}}, [&] { return impl.tree().erase(key); }, sync_left);
}

/// Applies `ops` to the tree in order, making the store refuse writes when one fails after others changed
/// it: those changes are in no log record, and a reopen must go back to before them. REQUIRES: the
/// writer's exclusion (a durable store's mutex).
result<void> apply_batch(detail::store_impl& impl, std::span<const detail::batch_op> ops) noexcept {
  std::size_t applied = 0;
  auto done = detail::apply_ops(impl.tree(), ops, applied);
  if (done || applied == 0) return done;  // whole, or nothing changed: the batch simply failed
  error halfway(errc::fatal, "a batch failed after " + std::to_string(applied) + " of its " +
                                 std::to_string(ops.size()) + " writes (" + done.error().to_string() + ")");
  if (detail::durable_state* d = impl.durable()) d->failed = halfway;
  return tl::unexpected(std::move(halfway));
}

/// The batch write behind write_batch_owing_sync: the ops as one record of kind batch.
result<void> batch_in(detail::store_impl& impl, std::span<const detail::batch_op> ops, durability level,
                      std::uint64_t* sync_left) noexcept {
  for (const detail::batch_op& op : ops) {
    if (auto ok = check_entry(as_bytes(op.key), as_bytes(op.value)); !ok) return ok;
  }
  if (ops.empty()) return {};
  // Room first, so that a full disk or reservation is a plain no_space before any write, not a halfway
  // failure.
  const std::uint64_t room = detail::room_for_ops(ops);
  if (impl.durable() == nullptr) {
    if (auto ok = impl.ensure_room(room); !ok) return ok;
    auto r = apply_batch(impl, ops);
    impl.maybe_reclaim();
    return r;
  }
  std::string record;
  try {
    record.reserve(detail::encoded_ops_size(ops));
    detail::encode_ops(ops, record);
  } catch (...) {
    return make_error(errc::no_memory, "encoding a batch of " + std::to_string(ops.size()) + " writes");
  }
  if (oplog::encoded_size(0, record.size()) > oplog::record_max_bytes) {
    return make_error(errc::invalid_argument,
                      "a batch of " + std::to_string(record.size()) + " bytes exceeds the largest log record");
  }
  return impl.durable_write(
      level, {oplog::op_kind::batch, {}, as_bytes(record)},
      [&]() -> result<void> {
        if (auto ok = impl.ensure_room(room); !ok) return ok;
        return apply_batch(impl, ops);
      },
      sync_left);
}

/// get's answer, from what the tree found for `key`.
result<value_view> answer_get(const detail::store_impl& impl, key_view key, std::optional<value_view> v) noexcept {
  if (!v) return tl::unexpected(error(errc::not_found));
  if (TESSEL_UNLIKELY(impl.verify_reads())) {
    if (auto ok = impl.verify_leaf(key, *v); !ok) return tl::unexpected(std::move(ok.error()));
  }
  return *v;
}

}  // namespace

result<value_view> store::get(key_view key) const noexcept {
  if (auto ok = check_key(key); !ok) return tl::unexpected(std::move(ok.error()));
  return answer_get(*impl_, key, impl_->tree().find(key));
}

result<value_view> detail::get_for_update(store& s, key_view key) noexcept {
  if (auto ok = check_key(key); !ok) return tl::unexpected(std::move(ok.error()));
  store_impl& impl = store_access::impl(s);
  return answer_get(impl, key, impl.tree().find_for_update(key));
}

bool store::contains(key_view key) const noexcept {
  return key.size() <= max_key_size && impl_->tree().find(key).has_value();
}

result<void> store::put(key_view key, value_view value) noexcept {
  return put_in(*impl_, key, value, own_durability(*impl_), nullptr);
}

result<void> store::put(key_view key, value_view value, durability level) noexcept {
  return put_in(*impl_, key, value, level, nullptr);
}

namespace {

/// store::write_batch: the ops as views, for batch_in.
result<void> write_batch_in(detail::store_impl& impl, std::span<const write_op> ops, durability level) noexcept {
  try {
    std::vector<detail::batch_op> views;
    views.reserve(ops.size());
    for (const write_op& op : ops) views.push_back({op.erase, op.key, op.value});
    return batch_in(impl, views, level, nullptr);
  } catch (...) {
    return make_error(errc::no_memory, "a batch of " + std::to_string(ops.size()) + " writes");
  }
}

}  // namespace

result<void> store::write_batch(std::span<const write_op> ops) noexcept {
  return write_batch_in(*impl_, ops, own_durability(*impl_));
}

result<void> store::write_batch(std::span<const write_op> ops, durability level) noexcept {
  return write_batch_in(*impl_, ops, level);
}

result<bool> store::erase(key_view key) noexcept { return erase_in(*impl_, key, own_durability(*impl_), nullptr); }

result<bool> store::erase(key_view key, durability level) noexcept { return erase_in(*impl_, key, level, nullptr); }

namespace {

/// Records a write's unpaid sync in `owed` and in the store's owed_through, for settle_logged_writes.
void owe(detail::store_impl& impl, detail::owed_sync& owed, std::uint64_t seq) noexcept {
  if (seq == 0) return;
  std::atomic<std::uint64_t>& through = impl.durable()->owed_through;
  std::uint64_t before = through.load(std::memory_order_relaxed);
  while (before < seq && !through.compare_exchange_weak(before, seq, std::memory_order_relaxed)) {
  }
  owed = detail::owed_sync(impl, seq);
}

}  // namespace

result<void> detail::put_owing_sync(store& s, key_view key, value_view value, owed_sync& owed) noexcept {
  store_impl& impl = store_access::impl(s);
  std::uint64_t seq = 0;
  auto r = put_in(impl, key, value, own_durability(impl), &seq);
  owe(impl, owed, seq);
  return r;
}

result<bool> detail::erase_owing_sync(store& s, key_view key, owed_sync& owed) noexcept {
  store_impl& impl = store_access::impl(s);
  std::uint64_t seq = 0;
  auto r = erase_in(impl, key, own_durability(impl), &seq);
  owe(impl, owed, seq);
  return r;
}

result<void> detail::write_batch_owing_sync(store& s, std::span<const batch_op> ops, owed_sync& owed) noexcept {
  store_impl& impl = store_access::impl(s);
  std::uint64_t seq = 0;
  auto r = batch_in(impl, ops, own_durability(impl), &seq);
  owe(impl, owed, seq);
  return r;
}

result<void> detail::reserve_room(store& s, std::uint64_t bytes) noexcept {
  store_impl& impl = store_access::impl(s);
  if (durable_state* d = impl.durable()) {
    std::lock_guard lock(d->mutex);
    return impl.ensure_room(bytes);
  }
  return impl.ensure_room(bytes);
}

result<void> detail::settle_logged_writes(store& s) noexcept {
  store_impl& impl = store_access::impl(s);
  const durable_state* d = impl.durable();
  if (d == nullptr || d->log == nullptr || d->opts.durability != durability::log) return {};
  // Only what a writer still owes: a cross-shard part's records need no sync (its coordinator record is
  // durable and recovery re-applies it), and syncing them would cost each transaction one more fdatasync
  // per shard it holds.
  const std::uint64_t owed = d->owed_through.load(std::memory_order_relaxed);
  if (owed <= d->log->durable_seq()) return {};
  return impl.sync_log(owed);
}

result<void> detail::owed_sync::pay() noexcept {
  if (owner_ == nullptr) return {};
  store_impl& impl = *owner_;
  owner_ = nullptr;
  return impl.sync_log(std::exchange(seq_, 0));
}

result<value_view> store::get_or_insert(key_view key, value_view default_value) noexcept {
  if (auto ok = check_entry(key, default_value); !ok) return tl::unexpected(std::move(ok.error()));
  if (impl_->durable() == nullptr) {
    if (auto v = impl_->tree().find(key)) return *v;
    if (auto r = impl_->tree().upsert(key, default_value); !r) return tl::unexpected(std::move(r.error()));
    impl_->maybe_reclaim();
    return *impl_->tree().find(key);
  }
  // Look and insert under the store's mutex, so concurrent writers see one of them insert.
  std::optional<value_view> found;
  auto wrote = impl_->durable_write(impl_->durable()->opts.durability, {oplog::op_kind::put, key, default_value},
                                    [&]() -> result<bool> {
                                      if ((found = impl_->tree().find(key))) return false;
                                      auto r = impl_->tree().upsert(key, default_value);
                                      if (!r) return tl::unexpected(std::move(r.error()));
                                      found = impl_->tree().find(key);
                                      return true;
                                    });
  if (!wrote) return tl::unexpected(std::move(wrote.error()));
  return *found;
}

result<std::string> store::get_string(std::string_view key) const noexcept {
  return detail::copy_value(get(as_bytes(key)));
}

tl::unexpected<error> store::typed_size_error(std::size_t stored, std::size_t wanted) {
  return make_error(errc::invalid_argument, "stored value has " + std::to_string(stored) +
                                                " bytes but the requested type has " + std::to_string(wanted));
}

cursor store::new_cursor() const noexcept { return cursor(std::make_unique<detail::cursor_impl>(impl_->tree())); }

scan_range store::prefix_scan(key_view prefix) const noexcept { return scan_range::with_prefix(new_cursor(), prefix); }

scan_range store::range_scan(key_view start, key_view end) const noexcept {
  return scan_range::in_range(new_cursor(), start, end);
}

std::size_t store::len() const noexcept { return impl_->tree().size(); }

namespace {

/// The region's figures; a durable store's under its mutex, since its checkpointer frees blocks whenever a
/// commit ends.
index::region_usage region_usage_of(const detail::store_impl& impl) noexcept {
  if (const detail::durable_state* d = impl.durable()) {
    std::lock_guard lock(d->mutex);
    return impl.region().usage();
  }
  return impl.region().usage();
}

}  // namespace

std::size_t store::size_bytes() const noexcept { return region_usage_of(*impl_).live_bytes; }

memory_usage store::memory() const noexcept {
  const index::region_usage u = region_usage_of(*impl_);
  return {u.live_bytes, impl_->tree().leaf_bytes(), u.free_bytes, u.committed_bytes};
}

result<void> store::clear() noexcept {
  if (impl_->durable() == nullptr) {
    impl_->tree().clear();
    impl_->reclaim_unpinned();
    return {};
  }
  return impl_->durable_write(impl_->durable()->opts.durability, {oplog::op_kind::clear, {}, {}},
                              [&]() -> result<void> {
                                impl_->tree().clear();
                                return {};
                              });
}

result<void> store::compact(const std::function<void(std::uint64_t)>& progress) noexcept {
  return impl_->compact(progress);
}

bool store::is_durable() const noexcept { return impl_->durable() != nullptr; }

result<void> store::flush() noexcept {
  detail::durable_state* d = impl_->durable();
  if (d == nullptr) return {};
  if (d->pool_log != nullptr) {
    std::lock_guard lock(d->mutex);
    if (d->failed)
      return make_error(errc::fatal, "an earlier write failed (" + d->failed->to_string() + "); reopen the store");
    auto ok = d->pool_log->sync();
    // As after a failed log sync on a write: the failure may have been reported once for pages that are
    // now clean, so a retry could report records durable that are not.
    if (!ok) d->failed = ok.error();
    return ok;
  }
  if (d->log == nullptr) return {};
  return impl_->sync_log(d->log->last_seq());
}

result<void> store::checkpoint() noexcept {
  detail::durable_state* d = impl_->durable();
  if (d == nullptr) return {};
  std::lock_guard lock(d->mutex);
  // After what the checkpointer is doing: so that once this returns, the garbage of every commit so far
  // is freed too (its reclaim in slices would make this commit's a no-op).
  impl_->wait_for_checkpointer_locked();
  if (d->opts.read_only || d->closed) return {};
  return impl_->commit_locked(0);
}

result<void> store::close() noexcept {
  detail::durable_state* d = impl_->durable();
  if (d == nullptr) return {};
  // Before the mutex: a checkpoint in flight needs it to end. A write that finds the policy due after this
  // commits on its own thread.
  impl_->stop_checkpointer();
  std::lock_guard lock(d->mutex);
  d->checkpoint_requested = false;  // dropped by the stop: the closing commit covers it
  d->commit_ended.notify_all();     // a checkpoint() waiting for it
  if (d->opts.read_only || d->closed) return {};
  if (d->failed) {
    d->closed = true;
    return make_error(errc::fatal, "closing after a failed commit: " + d->failed->to_string());
  }
  auto ok = impl_->close_locked();
  impl_->unpublish();  // the closing commits published again; a closed store has no new versions
  d->closed = true;
  return ok;
}

}  // namespace tessel
