// Cross-shard batches of a sharded store (docs/concurrency.md §Cross-shard commits): the recovery that
// re-applies the parts shards lack after a crash (or, read-only, refuses to show them half applied);
// write_batch; and transact, the read-modify-write the kv layer builds on, with read() beside it. The
// record format and the marker are in store/cross_shard_batch.hpp.
#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <vector>

#include "tessel/limits.hpp"

#include "common/le_codec.hpp"
#include "log/log_reader.hpp"
#include "store/cross_shard_batch.hpp"
#include "store/deferred_sync.hpp"
#include "store/sharded_impl.hpp"
#include "store/store_impl.hpp"

namespace tessel::detail {

namespace {

/// The batch id shard `s` applied last (its marker key), 0 when none.
std::uint64_t applied_batch(const store& s) noexcept {
  auto v = s.get(as_bytes(batch_marker_key));
  if (!v || v->size() != sizeof(std::uint64_t)) return 0;
  return load_le<std::uint64_t>(v->data());
}

/// Applies one shard's part of batch `id`, then its marker (when `id` is not 0: durable stores).
result<void> apply_part(store& s, const batch_part& part, std::uint64_t id) noexcept {
  for (const batch_op& op : part.ops) {
    if (op.erase) {
      if (auto ok = s.erase(as_bytes(op.key), durability::none); !ok) return tl::unexpected(std::move(ok.error()));
    } else if (auto ok = s.put(as_bytes(op.key), as_bytes(op.value), durability::none); !ok) {
      return ok;
    }
  }
  if (id == 0) return {};
  std::array<std::byte, sizeof(std::uint64_t)> marker{};
  store_le<std::uint64_t>(marker.data(), id);
  return s.put(as_bytes(batch_marker_key), marker, durability::none);
}

}  // namespace

result<void> recover_batches(sharded_impl& impl, const std::filesystem::path& dir, const shard_manifest& m,
                             const options& opts) noexcept {
  try {
    const std::filesystem::path log_dir = dir / "txn";
    std::uint64_t newest_marker = 0;
    std::vector<std::uint64_t> markers;
    for (const auto& s : impl.shards) {
      markers.push_back(applied_batch(*s));
      newest_marker = std::max(newest_marker, markers.back());
    }
    auto after = coordinator_scan_start(log_dir);
    if (!after) return tl::unexpected(std::move(after.error()));
    auto report = oplog::scan_log(log_dir, m.id, *after, [&](const oplog::record_view& r) -> result<void> {
      auto parts = decode_batch(as_string_view(r.value));
      if (!parts) return tl::unexpected(std::move(parts.error()));
      for (const batch_part& part : *parts) {
        if (part.shard >= impl.shards.size()) {
          return make_error(errc::corruption, "a cross-shard batch names shard " + std::to_string(part.shard));
        }
        if (markers[part.shard] >= r.seq) continue;  // the shard holds this part already
        if (opts.read_only) {
          // A read-only store cannot finish the batch, and must not show half of it.
          return make_error(errc::not_supported, "cross-shard batch " + std::to_string(r.seq) +
                                                     " is not yet applied to shard " + std::to_string(part.shard) +
                                                     " (the store was not reopened since a crash); open it "
                                                     "writable once to finish it");
        }
        if (auto ok = apply_part(*impl.shards[part.shard], part, r.seq); !ok) return ok;
        markers[part.shard] = r.seq;
      }
      return {};
    });
    if (!report) {
      return make_error(report.error().code(),
                        "recovering cross-shard batches: " + std::string(report.error().message()));
    }
    if (opts.read_only) return {};  // every batch is whole in every shard: nothing to write
    if (report->damage) {
      if (auto ok = oplog::cut_tail(*report->damage); !ok) return ok;
    }
    oplog::log_options lo;
    lo.segment_bytes = std::min<std::uint64_t>(opts.log_segment_bytes, 4 << 20);
    lo.simulate_power_loss = opts.simulate_power_loss;
    auto writer = oplog::log_writer::open(log_dir, m.id, std::max(report->next_seq, newest_marker + 1), lo);
    if (!writer) return tl::unexpected(std::move(writer.error()));
    impl.coordinator = std::move(*writer);
    impl.trimmer = std::make_unique<background_job>([&impl] { trim_coordinator(impl); });
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "recovering cross-shard batches");
  }
}

// ---- Applying batches (write_batch, transact) ----

namespace {

/// The shards `keys` route to, as a mask.
std::vector<bool> shards_of(const sharded_impl& impl, std::span<const key_view> keys) {
  std::vector<bool> held(impl.shards.size(), false);
  for (key_view k : keys) held[impl.router.shard_of(k)] = true;
  return held;
}

/// The locks of the shards `held` marks, taken in shard order: no other write, and no cut, sees part of a
/// batch, and two batches cannot deadlock.
std::vector<std::unique_lock<std::mutex>> lock_shards(sharded_impl& impl, const std::vector<bool>& held) {
  std::vector<std::unique_lock<std::mutex>> locks;
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (held[i]) locks.emplace_back(impl.locks[i]);
  }
  return locks;
}

result<void> check_op(const write_op& op) {
  if (op.key.size() > max_key_size || op.value.size() > max_value_size) {
    return make_error(errc::invalid_argument, "a batch write of a " + std::to_string(op.key.size()) + "-byte key and " +
                                                  std::to_string(op.value.size()) + "-byte value exceeds the limits");
  }
  if (std::string_view(op.key).starts_with(batch_reserved_prefix)) {
    return make_error(errc::invalid_argument, "keys under \\xFF\\xFFtessel/txn/ are tessel's");
  }
  return {};
}

/// Records a failure after a batch's commit point: batches are refused until the store is reopened.
error fail_store(sharded_impl& impl, const error& cause, std::string_view what) {
  std::lock_guard lock(impl.failed_mutex);
  impl.failed = cause;
  return error(errc::fatal, std::string(what) + ": " + cause.to_string());
}

/// Worker mode: the shards a batch wrote become their published versions, so readers of published()
/// see the batch once the call returns.
result<void> publish_written(sharded_impl& impl, const std::vector<batch_part>& parts) {
  if (impl.mode != shard_mode::workers) return {};
  for (const batch_part& p : parts) {
    if (auto ok = impl.shards[p.shard]->publish(); !ok) return ok;
  }
  return {};
}

/// One write to one shard: the shard's own log makes it atomic, so no coordinator record is needed. Inline
/// mode leaves the log sync it owes in `owed`, for once the shard's lock is released (deferred_sync.hpp).
/// Worker mode syncs first: it publishes the write, and a published version holds only durable writes,
/// as the worker's own batches do.
result<void> apply_single(sharded_impl& impl, std::uint32_t shard, const write_op& op, owed_sync& owed) {
  store& s = *impl.shards[shard];
  if (impl.mode == shard_mode::workers) {
    if (op.erase) {
      if (auto ok = s.erase(as_bytes(op.key)); !ok) return tl::unexpected(std::move(ok.error()));
    } else if (auto ok = s.put(as_bytes(op.key), as_bytes(op.value)); !ok) {
      return ok;
    }
    return s.publish();
  }
  if (op.erase) {
    if (auto ok = erase_owing_sync(s, as_bytes(op.key), owed); !ok) return tl::unexpected(std::move(ok.error()));
    return {};
  }
  return put_owing_sync(s, as_bytes(op.key), as_bytes(op.value), owed);
}

/// A batch whose writes all go to one shard: one batch record of the shard's own log makes it atomic and
/// durable, with no coordinator record to sync under the shard's lock, so inline mode leaves its log sync
/// in `owed` as a single write does. Worker mode syncs before it publishes (apply_single).
result<void> apply_local_batch(sharded_impl& impl, const batch_part& part, owed_sync& owed) {
  store& s = *impl.shards[part.shard];
  if (auto ok = write_batch_owing_sync(s, part.ops, owed); !ok) {
    // Failed halfway: the shard holds part of the batch until it is reopened (a durable shard refuses
    // writes until then; a dram one cannot go back), so no batch may build on it.
    if (ok.error().code() == errc::fatal) return tl::unexpected(fail_store(impl, ok.error(), "a batch"));
    return ok;
  }
  if (impl.mode != shard_mode::workers) return {};
  if (auto paid = owed.pay(); !paid) return paid;
  return s.publish();
}

/// Applies `ops` as one batch; the caller holds the lock of every shard they touch, and pays `owed` once it
/// has released them (the log sync of a single write, or of a batch of one shard; a cross-shard batch's
/// record is synced before its parts apply).
result<void> commit_batch(sharded_impl& impl, const std::vector<write_op>& ops, owed_sync& owed) {
  if (ops.size() == 1) {  // the common case, with nothing to group
    if (auto ok = check_op(ops.front()); !ok) return ok;
    return apply_single(impl, impl.router.shard_of(as_bytes(ops.front().key)), ops.front(), owed);
  }
  std::vector<batch_part> parts;
  parts.reserve(std::min(ops.size(), impl.shards.size()));
  thread_local std::vector<std::int64_t> part_of;  // per shard, its part's index; reused
  part_of.assign(impl.shards.size(), -1);
  for (const write_op& op : ops) {
    if (auto ok = check_op(op); !ok) return ok;
    const std::uint32_t home = impl.router.shard_of(as_bytes(op.key));
    if (part_of[home] < 0) {
      part_of[home] = static_cast<std::int64_t>(parts.size());
      parts.push_back({home, {}});
      parts.back().ops.reserve(ops.size());
    }
    parts[static_cast<std::size_t>(part_of[home])].ops.push_back({op.erase, op.key, op.value});
  }
  if (parts.empty()) return {};
  if (parts.size() == 1) return apply_local_batch(impl, parts.front(), owed);
  std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.shard < b.shard; });
  // Room in every shard for its part (and its marker) before the commit point: after it, a part that
  // cannot be applied makes the store fatal until a reopen finishes the batch.
  const batch_op marker{false, batch_marker_key, std::string_view("\0\0\0\0\0\0\0\0", sizeof(std::uint64_t))};
  const std::uint64_t marker_room = impl.coordinator ? room_for_ops({&marker, 1}) : 0;
  for (const batch_part& p : parts) {
    if (auto ok = reserve_room(*impl.shards[p.shard], room_for_ops(p.ops) + marker_room); !ok) return ok;
  }
  std::uint64_t id = 0;
  if (impl.coordinator) {
    {
      std::lock_guard lock(impl.failed_mutex);
      if (impl.failed) {
        return make_error(errc::fatal, "an earlier batch failed (" + impl.failed->to_string() + "); reopen the store");
      }
    }
    // The commit point: the batch's record, synced (durability none: handed to the operating system, so
    // a killed process still leaves it). Before it the batch never happened.
    const std::string record = encode_batch(parts);
    result<void> made_durable;
    {
      std::lock_guard lock(impl.coordinator_mutex);
      if (auto ok = impl.coordinator->reserve(oplog::encoded_size(0, record.size())); !ok) return ok;
      id = impl.coordinator->append(oplog::op_kind::put, {}, as_bytes(record));
      if (impl.level == durability::none) made_durable = impl.coordinator->write_buffered();
      if (const std::size_t segments = impl.coordinator->segment_count(); segments > coordinator_segments_kept) {
        impl.trim_due.store(true, std::memory_order_relaxed);
        if (segments > coordinator_segments_backlog) impl.trim_backlogged.store(true, std::memory_order_relaxed);
      }
    }
    if (impl.level != durability::none) made_durable = impl.coordinator->sync_through(id);
    if (!made_durable) {
      // The record may be durable: only recovery knows.
      return tl::unexpected(fail_store(impl, made_durable.error(), "syncing a cross-shard batch"));
    }
  }
  for (const batch_part& p : parts) {
    if (auto ok = apply_part(*impl.shards[p.shard], p, id); !ok) {
      return tl::unexpected(
          fail_store(impl, ok.error(), "applying a committed cross-shard batch (reopen to finish it)"));
    }
  }
  return publish_written(impl, parts);
}

}  // namespace

std::optional<std::uint64_t> batches_applied_through(sharded_impl& impl) {
  const auto locks = lock_shards(impl, std::vector<bool>(impl.shards.size(), true));
  {
    // Set under the failing batch's shard locks, so seen here if it happened.
    std::lock_guard lock(impl.failed_mutex);
    if (impl.failed) return std::nullopt;
  }
  return impl.coordinator->last_seq();
}

void trim_coordinator_if_due(sharded_impl& impl) noexcept {
  if (!impl.trim_due.load(std::memory_order_relaxed)) return;
  // The trim pays a flush of every shard's log (~10 ms here once per 4 MiB of batch records), which no
  // batch should wait for -- unless the trimmer has fallen that far behind.
  if (!impl.trim_backlogged.load(std::memory_order_relaxed) && impl.trimmer && impl.trimmer->request()) return;
  trim_coordinator(impl);
}

void trim_coordinator(sharded_impl& impl) noexcept {
  const std::lock_guard trimming(impl.trim_mutex);
  impl.trim_backlogged.store(false, std::memory_order_relaxed);
  if (!impl.trim_due.exchange(false, std::memory_order_relaxed)) return;
  try {
    const std::optional<std::uint64_t> through = batches_applied_through(impl);
    if (!through) return;
    // Each part was applied at durability none, its marker last: once a shard's log is durable through
    // what it holds now, recovery finds the part there and never needs the batch's record again.
    for (const auto& s : impl.shards) {
      if (!s->flush()) return;
    }
    (void)impl.coordinator->drop_through(*through);
  } catch (...) {
    // Out of memory locking the shards: the next checkpoint or close drops the segments.
  }
}

}  // namespace tessel::detail

namespace tessel {

result<value_view> batch_reader::get(key_view key) const noexcept {
  const std::uint32_t i = impl_.router.shard_of(key);
  if (!holds(i)) {
    return make_error(errc::invalid_argument, "a transaction read a key of shard " + std::to_string(i) +
                                                  ", which it did not name among its keys");
  }
  // The decision's read of a key it may write next: the write then skips the second descent.
  return detail::get_for_update(*impl_.shards[i], key);
}

result<void> sharded_store::write_batch(const std::vector<write_op>& ops) noexcept {
  try {
    std::vector<bool> held(impl_->shards.size(), false);
    for (const write_op& op : ops) held[shard_of(as_bytes(op.key))] = true;
    detail::owed_sync owed;
    result<void> committed;
    {
      auto locks = detail::lock_shards(*impl_, held);
      committed = detail::commit_batch(*impl_, ops, owed);
    }
    auto paid = owed.pay();
    detail::trim_coordinator_if_due(*impl_);
    if (!paid) return paid;
    return committed;
  } catch (...) {
    return make_error(errc::no_memory, "a cross-shard batch");
  }
}

result<void> sharded_store::transact(std::span<const key_view> keys, std::vector<write_op>& ops,
                                     function_ref<result<void>(const batch_reader&, std::vector<write_op>&)> decide,
                                     function_ref<void()> applied) noexcept {
  try {
    // One key (every single-key kv write): one lock, and nothing to allocate.
    const bool one_shard = keys.size() == 1;
    const std::vector<bool> held = one_shard ? std::vector<bool>() : detail::shards_of(*impl_, keys);
    const std::uint32_t only = one_shard ? shard_of(keys.front()) : 0;
    std::unique_lock<std::mutex> only_lock;
    std::vector<std::unique_lock<std::mutex>> locks;
    if (one_shard) {
      only_lock = std::unique_lock(impl_->locks[only]);
    } else {
      locks = detail::lock_shards(*impl_, held);
    }
    const batch_reader reader = one_shard ? batch_reader(*impl_, only) : batch_reader(*impl_, held);
    if (auto ok = decide(reader, ops); !ok) return ok;
    constexpr std::uint32_t no_shard = UINT32_MAX;
    std::uint32_t written = no_shard;  // the one shard every write goes to; no_shard when they go to several
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const std::uint32_t home = shard_of(as_bytes(ops[i].key));
      if (!reader.holds(home)) {
        return make_error(errc::invalid_argument,
                          "a transaction writes a key whose shard it did not name among its keys");
      }
      written = i == 0 || home == written ? home : no_shard;
    }
    // The decision may have read a write whose writer released its shard before its log sync. Writes that
    // all go to one shard are safe there (they are one record of that shard's log, a prefix: durable only
    // after what they read there); anything else -- a coordinator record, another shard's log -- could
    // survive a crash the write it rests on does not, so the logs of the other shards held are made durable
    // first. Only durability log defers syncs (none makes nothing durable per write; sync commits under the
    // lock).
    if (impl_->level == durability::log && !ops.empty() && !one_shard) {
      for (std::uint32_t i = 0; i < impl_->shards.size(); ++i) {
        if (!reader.holds(i) || i == written) continue;
        if (auto ok = detail::settle_logged_writes(*impl_->shards[i]); !ok) return ok;
      }
    }
    detail::owed_sync owed;
    if (auto ok = detail::commit_batch(*impl_, ops, owed); !ok) return ok;
    applied();
    // The shards go before the log sync: the next writer of a shard appends its record while this sync
    // runs, and they share the one after (deferred_sync.hpp).
    if (one_shard) only_lock.unlock();
    locks.clear();
    auto paid = owed.pay();
    detail::trim_coordinator_if_due(*impl_);
    return paid;
  } catch (...) {
    return make_error(errc::no_memory, "a transaction");
  }
}

void sharded_store::read(key_view key, function_ref<void(const result<value_view>&)> visit) const noexcept {
  const std::uint32_t i = shard_of(key);
  if (impl_->mode == shard_mode::workers) {
    const tessel::snapshot version = impl_->shards[i]->published();
    visit(version.get(key));
    return;
  }
  std::lock_guard lock(impl_->locks[i]);
  visit(impl_->shards[i]->get(key));
}

}  // namespace tessel
