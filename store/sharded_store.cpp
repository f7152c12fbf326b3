// tessel::sharded_store (include/tessel/sharded_store.hpp): N complete stores and a router. A durable one
// is a directory: the shards' stores in shard-000/..., created first, then the manifest that makes the
// directory a sharded store (store/shard_manifest.hpp).
#include "tessel/sharded_store.hpp"

#include <algorithm>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#include <sys/random.h>

#include "common/errno_error.hpp"
#include "common/file_io.hpp"
#include "store/deferred_sync.hpp"
#include "store/sharded_impl.hpp"

namespace tessel {

namespace {

/// One shard per core of this machine (hardware threads when hwloc cannot tell).
std::uint32_t default_shard_count() noexcept {
  if (auto t = numa::topology::detect(); t && !t->cores().empty()) return static_cast<std::uint32_t>(t->cores().size());
  return std::max(1U, std::thread::hardware_concurrency());
}

result<detail::shard_router> router_for(const shard_options& s) noexcept {
  const std::uint32_t shards = s.shards != 0 ? s.shards : default_shard_count();
  return detail::shard_router::make(shards, {static_cast<detail::routing_kind>(s.rule), s.path_components});
}

template <class T>
std::future<result<T>> ready(result<T> r) {
  std::promise<result<T>> p;
  p.set_value(std::move(r));
  return p.get_future();
}

template <class F>
result<void> on_every_shard(detail::sharded_impl& impl, F&& f) noexcept {
  result<void> first;
  for (auto& s : impl.shards) {
    if (auto ok = f(*s); !ok && first) first = std::move(ok);
  }
  return first;
}

}  // namespace

// ---- sharded_snapshot ----

result<value_view> sharded_snapshot::get(key_view key) const noexcept {
  const std::uint32_t i = impl_->router.shard_of(key);
  if (i >= shards_.size()) return tl::unexpected(error(errc::not_found));  // made without memory
  return shards_[i].get(key);
}

bool sharded_snapshot::contains(key_view key) const noexcept {
  const std::uint32_t i = impl_->router.shard_of(key);
  return i < shards_.size() && shards_[i].contains(key);
}

std::size_t sharded_snapshot::len() const noexcept {
  std::size_t n = 0;
  for (const snapshot& s : shards_) n += s.len();
  return n;
}

merged_cursor sharded_snapshot::new_cursor() const noexcept {
  std::vector<cursor> cursors;
  try {
    cursors.reserve(shards_.size());
    for (const snapshot& s : shards_) cursors.push_back(s.new_cursor());
  } catch (...) {
    cursors.clear();  // out of memory: an empty cursor
  }
  return merged_cursor(std::move(cursors));
}

// ---- sharded_store ----

sharded_store::sharded_store(std::shared_ptr<detail::sharded_impl> impl) noexcept : impl_(std::move(impl)) {}

sharded_store::~sharded_store() {
  if (impl_) (void)close();
}

result<std::unique_ptr<sharded_store>> sharded_store::open(const options& opts, const shard_options& s) noexcept {
  auto router = router_for(s);
  if (!router) return tl::unexpected(std::move(router.error()));
  try {
    auto impl = std::make_shared<detail::sharded_impl>(*router);
    impl->level = durability::none;  // in memory: nothing to make durable
    impl->locks = std::make_unique<std::mutex[]>(router->shards());
    for (std::uint32_t i = 0; i < router->shards(); ++i) {
      auto shard = store::open(opts);
      if (!shard) return tl::unexpected(std::move(shard.error()));
      impl->shards.push_back(std::move(*shard));
    }
    if (auto ok = detail::place_shards(*impl, opts, s); !ok) return tl::unexpected(std::move(ok.error()));
    return std::unique_ptr<sharded_store>(new sharded_store(std::move(impl)));
  } catch (...) {
    return make_error(errc::no_memory, "opening a sharded store");
  }
}

result<std::unique_ptr<sharded_store>> sharded_store::open(const std::string& path, const options& opts,
                                                           const shard_options& s) noexcept {
  try {
    const std::filesystem::path dir(path);
    auto manifest = detail::read_shard_manifest(dir);
    if (!manifest) return tl::unexpected(std::move(manifest.error()));
    // A creation holds the directory's creation lock until its manifest is written, and looks for a
    // manifest again under it: another handle may have finished creating the store meanwhile, and two
    // creations at once would delete each other's shards as leftovers.
    unique_fd creation_lock;
    if (!*manifest && opts.mode != open_mode::open_existing && !opts.read_only) {
      if (auto ok = make_store_directory(dir, static_cast<std::filesystem::perms>(opts.directory_mode & 07777)); !ok) {
        return tl::unexpected(std::move(ok.error()));
      }
      auto locked = lock_store_creation(dir);
      if (!locked) return tl::unexpected(std::move(locked.error()));
      creation_lock = std::move(*locked);
      manifest = detail::read_shard_manifest(dir);
      if (!manifest) return tl::unexpected(std::move(manifest.error()));
    }
    options shard_opts = opts;
    bool creating = false;
    detail::shard_manifest m;
    if (*manifest) {
      m = **manifest;
      if (opts.mode == open_mode::create_new) {
        return make_error(errc::invalid_argument, "a sharded store already exists in " + path);
      }
      const detail::routing_rule asked{static_cast<detail::routing_kind>(s.rule),
                                       s.rule == routing::path_components ? s.path_components : 0};
      if (s.shards != 0 && (s.shards != m.shards || !(asked == m.rule))) {
        return make_error(errc::invalid_argument,
                          path + " has " + std::to_string(m.shards) + " shards routed by " + detail::to_string(m.rule) +
                              "; asked for " + std::to_string(s.shards) + " routed by " + detail::to_string(asked));
      }
      shard_opts.mode = open_mode::open_existing;
    } else {
      if (opts.mode == open_mode::open_existing || opts.read_only) {
        return make_error(errc::not_found, "no sharded store in " + path);
      }
      // Shards without a manifest are a creation that did not finish: open had not returned, so nothing in
      // them was ever acknowledged. They are removed and the creation starts over.
      std::error_code ec;
      std::vector<std::filesystem::path> leftovers;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().filename().string().starts_with("shard-")) leftovers.push_back(e.path());
      }
      leftovers.push_back(dir / "txn");
      for (const auto& p : leftovers) {
        std::filesystem::remove_all(p, ec);
        if (ec)
          return tl::unexpected(errno_error(ec.value(), "removing " + p.string() + ", left by an unfinished creation"));
      }
      auto router = router_for(s);
      if (!router) return tl::unexpected(std::move(router.error()));
      m.shards = router->shards();
      m.rule = router->rule();
      if (::getrandom(m.id.data(), m.id.size(), 0) != static_cast<ssize_t>(m.id.size())) {
        return tl::unexpected(errno_error(errno, "drawing a store id"));
      }
      shard_opts.mode = open_mode::create_new;
      creating = true;
    }
    auto router = detail::shard_router::make(m.shards, m.rule);
    if (!router) return tl::unexpected(std::move(router.error()));
    auto impl = std::make_shared<detail::sharded_impl>(*router);
    impl->level = opts.durability;
    impl->locks = std::make_unique<std::mutex[]>(m.shards);
    for (std::uint32_t i = 0; i < m.shards; ++i) {
      const std::string shard_dir = (dir / detail::shard_directory_name(i)).string();
      auto shard = store::open(shard_dir, shard_opts);
      if (!shard) {
        return make_error(shard.error().code(),
                          "shard " + std::to_string(i) + ": " + std::string(shard.error().message()));
      }
      impl->shards.push_back(std::move(*shard));
    }
    // Durable point of a creation: the manifest, once every shard exists.
    if (creating) {
      if (auto ok = detail::write_shard_manifest(dir, m, opts.file_mode); !ok) {
        return tl::unexpected(std::move(ok.error()));
      }
    }
    if (auto ok = detail::recover_batches(*impl, dir, m, opts); !ok) return tl::unexpected(std::move(ok.error()));
    if (auto ok = detail::place_shards(*impl, opts, s); !ok) return tl::unexpected(std::move(ok.error()));
    return std::unique_ptr<sharded_store>(new sharded_store(std::move(impl)));
  } catch (...) {
    return make_error(errc::no_memory, "opening sharded store " + path);
  }
}

std::uint32_t sharded_store::shards() const noexcept { return impl_->router.shards(); }

bool sharded_store::batch_failed() const noexcept {
  std::lock_guard lock(impl_->failed_mutex);
  return impl_->failed.has_value();
}

std::uint32_t sharded_store::shard_of(key_view key) const noexcept { return impl_->router.shard_of(key); }

store& sharded_store::shard(std::uint32_t i) noexcept { return *impl_->shards[i]; }

const store& sharded_store::shard(std::uint32_t i) const noexcept { return *impl_->shards[i]; }

result<value_view> sharded_store::get(key_view key) const noexcept {
  if (impl_->mode == shard_mode::workers) {
    return make_error(errc::not_supported, "a view into a shard its worker writes; use get_string() or published()");
  }
  return impl_->shards[shard_of(key)]->get(key);
}

result<std::string> sharded_store::get_string(key_view key) const noexcept {
  if (impl_->mode == shard_mode::workers) {
    return impl_->shards[shard_of(key)]->published().get_string(as_string_view(key));
  }
  return impl_->shards[shard_of(key)]->get_string(as_string_view(key));
}

bool sharded_store::contains(key_view key) const noexcept {
  const store& s = *impl_->shards[shard_of(key)];
  return impl_->mode == shard_mode::workers ? s.published().contains(key) : s.contains(key);
}

result<void> sharded_store::put(key_view key, value_view value) noexcept {
  if (impl_->mode == shard_mode::workers) return put_async(key, value).get();
  const std::uint32_t i = shard_of(key);
  detail::owed_sync owed;
  result<void> written;
  {
    std::lock_guard lock(impl_->locks[i]);
    written = detail::put_owing_sync(*impl_->shards[i], key, value, owed);
  }
  // Outside the shard's lock, so the shard's writers share fdatasyncs (deferred_sync.hpp).
  if (auto paid = owed.pay(); !paid) return paid;
  return written;
}

result<bool> sharded_store::erase(key_view key) noexcept {
  if (impl_->mode == shard_mode::workers) return erase_async(key).get();
  const std::uint32_t i = shard_of(key);
  detail::owed_sync owed;
  result<bool> erased;
  {
    std::lock_guard lock(impl_->locks[i]);
    erased = detail::erase_owing_sync(*impl_->shards[i], key, owed);
  }
  if (auto paid = owed.pay(); !paid) return tl::unexpected(std::move(paid.error()));
  return erased;
}

std::future<result<void>> sharded_store::put_async(key_view key, value_view value) noexcept {
  try {
    if (impl_->mode != shard_mode::workers) return ready(put(key, value));
    return impl_->workers[shard_of(key)]->put(key, value);
  } catch (...) {
    return ready(result<void>(tl::unexpected(error(errc::no_memory, "queueing a write"))));
  }
}

std::future<result<bool>> sharded_store::erase_async(key_view key) noexcept {
  try {
    if (impl_->mode != shard_mode::workers) return ready(erase(key));
    return impl_->workers[shard_of(key)]->erase(key);
  } catch (...) {
    return ready(result<bool>(tl::unexpected(error(errc::no_memory, "queueing a write"))));
  }
}

std::size_t sharded_store::len() const noexcept {
  std::size_t n = 0;
  for (const auto& s : impl_->shards) n += impl_->mode == shard_mode::workers ? s->published().len() : s->len();
  return n;
}

sharded_snapshot sharded_store::published() const noexcept {
  std::vector<tessel::snapshot> snaps;
  try {
    snaps.reserve(impl_->shards.size());
    for (const auto& s : impl_->shards) snaps.push_back(s->published());
  } catch (...) {
    snaps.clear();  // out of memory: no shard, reads find nothing
  }
  return sharded_snapshot(impl_, std::move(snaps));
}

merged_cursor sharded_store::new_cursor() const noexcept {
  std::vector<cursor> cursors;
  try {
    cursors.reserve(impl_->shards.size());
    for (const auto& s : impl_->shards) cursors.push_back(s->new_cursor());
  } catch (...) {
    cursors.clear();
  }
  return merged_cursor(std::move(cursors));
}

result<sharded_snapshot> sharded_store::snapshot() noexcept {
  const std::uint32_t n = shards();
  // Every shard's lock, in shard order (so two cuts cannot deadlock): no write lands between the snapshots.
  for (std::uint32_t i = 0; i < n; ++i) impl_->locks[i].lock();
  auto unlock = [&] {
    for (std::uint32_t i = n; i-- > 0;) impl_->locks[i].unlock();
  };
  try {
    std::vector<tessel::snapshot> snaps;
    snaps.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      // Worker mode: the workers publish each batch under the shard's lock, so the published versions are
      // whole batches; nothing else may freeze a shard a worker writes.
      auto snap = impl_->mode == shard_mode::workers ? result<tessel::snapshot>(impl_->shards[i]->published())
                                                     : impl_->shards[i]->snapshot();
      if (!snap) {
        unlock();
        return tl::unexpected(std::move(snap.error()));
      }
      snaps.push_back(std::move(*snap));
    }
    unlock();
    return sharded_snapshot(impl_, std::move(snaps));
  } catch (...) {
    unlock();
    return make_error(errc::no_memory, "taking a sharded snapshot");
  }
}

result<void> sharded_store::flush() noexcept {
  return on_every_shard(*impl_, [](store& s) { return s.flush(); });
}

result<void> sharded_store::checkpoint() noexcept {
  try {
    // The batches applied before the shards commit, not the coordinator's last record after: a batch that
    // commits meanwhile may have parts that no shard's commit holds yet.
    const std::optional<std::uint64_t> through =
        impl_->coordinator ? detail::batches_applied_through(*impl_) : std::nullopt;
    auto ok = on_every_shard(*impl_, [](store& s) { return s.checkpoint(); });
    // Every shard's tree now holds its parts and markers: the batch records through `through` are not needed.
    if (ok && through) (void)impl_->coordinator->drop_through(*through);
    return ok;
  } catch (...) {
    return make_error(errc::no_memory, "a checkpoint of a sharded store");
  }
}

result<void> sharded_store::compact() noexcept {
  result<void> first;
  for (std::size_t i = 0; i < impl_->shards.size(); ++i) {
    std::lock_guard lock(impl_->locks[i]);
    store& shard = *impl_->shards[i];
    auto ok = shard.compact();
    if (ok && impl_->mode == shard_mode::workers) ok = shard.publish();
    if (!ok && first) first = std::move(ok);
  }
  return first;
}

result<void> sharded_store::close() noexcept {
  if (impl_->trimmer) impl_->trimmer->stop();  // a trim under way ends first: it flushes the shards
  impl_->workers.clear();                      // each applies what is queued, then stops
  impl_->mode = shard_mode::inline_calls;
  auto ok = on_every_shard(*impl_, [](store& s) { return s.close(); });
  if (ok && impl_->coordinator) {
    try {
      // After a batch that failed past its commit point, every record stays: the reopen finishes that batch.
      if (const auto through = detail::batches_applied_through(*impl_)) {
        (void)impl_->coordinator->drop_through(*through);
      }
    } catch (...) {
      // Out of memory locking the shards: the segments stay, and the next opening drops them.
    }
  }
  impl_->coordinator.reset();
  return ok;
}

}  // namespace tessel
