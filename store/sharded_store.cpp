// tessel::sharded_store (include/tessel/sharded_store.hpp): N complete stores and a router. A durable one
// is a directory: the shards' stores in shard-000/..., created first, then the manifest that makes the
// directory a sharded store (store/shard_manifest.hpp).
#include "tessel/sharded_store.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <sys/random.h>

#include "common/errno_error.hpp"
#include "common/file_io.hpp"
#include "common/le_codec.hpp"
#include "log/log_reader.hpp"
#include "log/log_writer.hpp"
#include "log/segment.hpp"
#include "numa/binding.hpp"
#include "numa/placement.hpp"
#include "numa/topology.hpp"
#include "store/cross_shard_batch.hpp"
#include "store/shard_manifest.hpp"
#include "store/shard_router.hpp"
#include "store/shard_worker.hpp"
#include "store/store_impl.hpp"

namespace tessel::detail {

struct sharded_impl {
  explicit sharded_impl(shard_router r) noexcept : router(r) {}
  shard_router router;
  shard_mode mode = shard_mode::inline_calls;
  std::unique_ptr<std::mutex[]> locks;  // one per shard: its writers, and snapshot()'s cut
  std::vector<std::unique_ptr<store>> shards;
  std::optional<numa::topology> topology;          // workers pinned by it
  std::unique_ptr<oplog::log_writer> coordinator;  // durable stores: the cross-shard batch log
  std::optional<error> failed;  // a batch failed after its commit point: batches refused until reopened
  std::mutex failed_mutex;
  // Declared after the shards they write, so they stop first.
  std::vector<std::unique_ptr<shard_worker>> workers;
};

}  // namespace tessel::detail

namespace tessel {

namespace {

/// Orders shards by their cursors' keys for a min-heap (std heaps are max-heaps: "greater" first).
struct key_after {
  const std::vector<cursor>* cursors;
  bool operator()(std::uint32_t a, std::uint32_t b) const noexcept {
    const key_view x = (*cursors)[a].key();
    const key_view y = (*cursors)[b].key();
    const int c = std::memcmp(x.data(), y.data(), std::min(x.size(), y.size()));
    return c != 0 ? c > 0 : x.size() > y.size();
  }
};

/// One shard per core of this machine (hardware threads when hwloc cannot tell).
std::uint32_t default_shard_count() noexcept {
  if (auto t = numa::topology::detect(); t && !t->cores().empty()) return static_cast<std::uint32_t>(t->cores().size());
  return std::max(1U, std::thread::hardware_concurrency());
}

result<detail::shard_router> router_for(const shard_options& s) noexcept {
  const std::uint32_t shards = s.shards != 0 ? s.shards : default_shard_count();
  return detail::shard_router::make(shards, {static_cast<detail::routing_kind>(s.rule), s.path_components});
}

/// The region a shard's tree lives in, for binding: a dram shard's whole reservation, a pmem shard's pool;
/// nothing for an mmap shard (see shard_options::bind_memory).
std::optional<std::pair<void*, std::size_t>> bindable_region(store& shard) noexcept {
  detail::store_impl& impl = detail::store_access::impl(shard);
  if (const mmap::mapped_region* m = impl.mapped(); m != nullptr && !m->file_backed()) {
    return std::pair<void*, std::size_t>{m->base(), m->reserved_bytes()};
  }
  if (const pmem::pool_region* p = impl.pool(); p != nullptr) {
    return std::pair<void*, std::size_t>{p->base(), p->pool_bytes()};
  }
  return std::nullopt;
}

/// Places the shards on this machine (docs/concurrency.md): binds their regions to their nodes when asked,
/// and in worker mode starts one worker per shard, pinned to its core when asked. A machine whose topology
/// hwloc cannot read, or that refuses binding, runs them unbound.
void place_shards(detail::sharded_impl& impl, const options& opts, const shard_options& s) {
  impl.mode = s.mode;
  const bool pin = s.mode == shard_mode::workers && s.pin_workers;
  std::optional<numa::placement_plan> plan;
  if (pin || s.bind_memory) {
    if (auto t = numa::topology::detect()) {
      if (auto p = numa::plan_placement(*t, impl.shards.size())) plan = std::move(*p);
      impl.topology.emplace(std::move(*t));
    }
  }
  if (plan && s.bind_memory) {
    for (std::size_t i = 0; i < impl.shards.size(); ++i) {
      if (auto range = bindable_region(*impl.shards[i])) {
        // Best effort: a kernel without NUMA policy, or a range it refuses, leaves the default policy.
        (void)numa::bind_memory(*impl.topology, numa::binding_for(plan->shards[i], range->first, range->second));
      }
    }
  }
  if (s.mode != shard_mode::workers) return;
  for (std::size_t i = 0; i < impl.shards.size(); ++i) {
    std::function<result<void>()> pin_worker;
    if (plan && pin) {
      pin_worker = [&impl, place = plan->shards[i]]() -> result<void> {
        auto ok = numa::pin_current_thread(*impl.topology, place);
        if (!ok && ok.error().code() == errc::not_supported) return {};
        return ok;
      };
    }
    impl.workers.push_back(std::make_unique<detail::shard_worker>(*impl.shards[i], impl.locks[i], opts.durability,
                                                                  s.queue_capacity, std::move(pin_worker)));
  }
}

/// The batch id shard `s` applied last (its marker key), 0 when none.
std::uint64_t applied_batch(const store& s) noexcept {
  auto v = s.get(as_bytes(detail::batch_marker_key));
  if (!v || v->size() != sizeof(std::uint64_t)) return 0;
  return load_le<std::uint64_t>(v->data());
}

/// Applies one shard's part of batch `id`, then its marker (when `id` is not 0: durable stores).
result<void> apply_part(store& s, const detail::batch_part& part, std::uint64_t id) noexcept {
  for (const detail::batch_op& op : part.ops) {
    if (op.erase) {
      if (auto ok = s.erase(as_bytes(op.key), durability::none); !ok) return tl::unexpected(std::move(ok.error()));
    } else if (auto ok = s.put(as_bytes(op.key), as_bytes(op.value), durability::none); !ok) {
      return ok;
    }
  }
  if (id == 0) return {};
  std::array<std::byte, sizeof(std::uint64_t)> marker{};
  store_le<std::uint64_t>(marker.data(), id);
  return s.put(as_bytes(detail::batch_marker_key), marker, durability::none);
}

/// Opens a durable sharded store's coordinator log: re-applies every batch a shard's marker says it lacks,
/// then opens the writer after the last record. A read-only store only reads its shards as they are.
result<void> recover_batches(detail::sharded_impl& impl, const std::filesystem::path& dir,
                             const detail::shard_manifest& m, const options& opts) noexcept {
  if (opts.read_only) return {};
  try {
    const std::filesystem::path log_dir = dir / "txn";
    std::uint64_t newest_marker = 0;
    std::vector<std::uint64_t> markers;
    for (const auto& s : impl.shards) {
      markers.push_back(applied_batch(*s));
      newest_marker = std::max(newest_marker, markers.back());
    }
    // Checkpoints delete the segments whose batches every shard holds: the log starts where they stopped.
    auto segments = oplog::list_segments(log_dir);
    if (!segments) return tl::unexpected(std::move(segments.error()));
    const std::uint64_t after = segments->empty() ? 0 : segments->front().first_seq - 1;
    auto report = oplog::scan_log(log_dir, m.id, after, [&](const oplog::record_view& r) -> result<void> {
      auto parts = detail::decode_batch(as_string_view(r.value));
      if (!parts) return tl::unexpected(std::move(parts.error()));
      for (const detail::batch_part& part : *parts) {
        if (part.shard >= impl.shards.size()) {
          return make_error(errc::corruption, "a cross-shard batch names shard " + std::to_string(part.shard));
        }
        if (markers[part.shard] >= r.seq) continue;  // the shard holds this part already
        if (auto ok = apply_part(*impl.shards[part.shard], part, r.seq); !ok) return ok;
        markers[part.shard] = r.seq;
      }
      return {};
    });
    if (!report) {
      return make_error(report.error().code(),
                        "recovering cross-shard batches: " + std::string(report.error().message()));
    }
    if (report->damage) {
      if (auto ok = oplog::cut_tail(*report->damage); !ok) return ok;
    }
    oplog::log_options lo;
    lo.segment_bytes = std::min<std::uint64_t>(opts.log_segment_bytes, 4 << 20);
    lo.simulate_power_loss = opts.simulate_power_loss;
    auto writer = oplog::log_writer::open(log_dir, m.id, std::max(report->next_seq, newest_marker + 1), lo);
    if (!writer) return tl::unexpected(std::move(writer.error()));
    impl.coordinator = std::move(*writer);
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "recovering cross-shard batches");
  }
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

// ---- merged_cursor ----

merged_cursor::merged_cursor(std::vector<cursor> cursors) noexcept : cursors_(std::move(cursors)) {}

void merged_cursor::rebuild() noexcept {
  heap_.clear();
  try {
    heap_.reserve(cursors_.size());  // once: later rebuilds and next() never allocate
  } catch (...) {
    return;  // out of memory: the cursor is invalid
  }
  for (std::uint32_t i = 0; i < cursors_.size(); ++i) {
    if (cursors_[i].valid()) heap_.push_back(i);
  }
  std::make_heap(heap_.begin(), heap_.end(), key_after{&cursors_});
}

void merged_cursor::seek_to_first() noexcept {
  for (cursor& c : cursors_) c.seek_to_first();
  rebuild();
}

void merged_cursor::seek(key_view key) noexcept {
  for (cursor& c : cursors_) c.seek(key);
  rebuild();
}

void merged_cursor::next() noexcept {
  const key_after after{&cursors_};
  std::pop_heap(heap_.begin(), heap_.end(), after);
  cursor& c = cursors_[heap_.back()];
  c.next();
  if (c.valid()) {
    std::push_heap(heap_.begin(), heap_.end(), after);
  } else {
    heap_.pop_back();
  }
}

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
    impl->locks = std::make_unique<std::mutex[]>(router->shards());
    for (std::uint32_t i = 0; i < router->shards(); ++i) {
      auto shard = store::open(opts);
      if (!shard) return tl::unexpected(std::move(shard.error()));
      impl->shards.push_back(std::move(*shard));
    }
    place_shards(*impl, opts, s);
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
      if (auto ok = make_store_directory(dir, static_cast<std::filesystem::perms>(opts.directory_mode & 07777)); !ok) {
        return tl::unexpected(std::move(ok.error()));
      }
      shard_opts.mode = open_mode::create_new;
      creating = true;
    }
    auto router = detail::shard_router::make(m.shards, m.rule);
    if (!router) return tl::unexpected(std::move(router.error()));
    auto impl = std::make_shared<detail::sharded_impl>(*router);
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
    if (auto ok = recover_batches(*impl, dir, m, opts); !ok) return tl::unexpected(std::move(ok.error()));
    place_shards(*impl, opts, s);
    return std::unique_ptr<sharded_store>(new sharded_store(std::move(impl)));
  } catch (...) {
    return make_error(errc::no_memory, "opening sharded store " + path);
  }
}

std::uint32_t sharded_store::shards() const noexcept { return impl_->router.shards(); }

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
  std::lock_guard lock(impl_->locks[i]);
  return impl_->shards[i]->put(key, value);
}

result<bool> sharded_store::erase(key_view key) noexcept {
  if (impl_->mode == shard_mode::workers) return erase_async(key).get();
  const std::uint32_t i = shard_of(key);
  std::lock_guard lock(impl_->locks[i]);
  return impl_->shards[i]->erase(key);
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

result<void> sharded_store::write_batch(const std::vector<write_op>& ops) noexcept {
  detail::sharded_impl& impl = *impl_;
  if (impl.mode == shard_mode::workers) {
    return make_error(errc::not_supported, "cross-shard batches need inline mode (workers own their shards)");
  }
  try {
    std::vector<detail::batch_part> parts;
    std::vector<std::int64_t> part_of(shards(), -1);
    for (const write_op& op : ops) {
      if (op.key.size() > max_key_size || op.value.size() > max_value_size) {
        return make_error(errc::invalid_argument, "a batch write of a " + std::to_string(op.key.size()) +
                                                      "-byte key and " + std::to_string(op.value.size()) +
                                                      "-byte value exceeds the limits");
      }
      if (std::string_view(op.key).starts_with(detail::batch_reserved_prefix)) {
        return make_error(errc::invalid_argument, "keys under \\xFF\\xFFtessel/txn/ are tessel's");
      }
      const std::uint32_t home = shard_of(as_bytes(op.key));
      if (part_of[home] < 0) {
        part_of[home] = static_cast<std::int64_t>(parts.size());
        parts.push_back({home, {}});
      }
      parts[static_cast<std::size_t>(part_of[home])].ops.push_back({op.erase, op.key, op.value});
    }
    if (parts.empty()) return {};
    // Every involved shard's lock, in shard order: no other write, and no cut, sees part of the batch.
    std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.shard < b.shard; });
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(parts.size());
    for (const detail::batch_part& p : parts) locks.emplace_back(impl.locks[p.shard]);
    std::uint64_t id = 0;
    if (impl.coordinator) {
      {
        std::lock_guard lock(impl.failed_mutex);
        if (impl.failed) {
          return make_error(errc::fatal,
                            "an earlier batch failed (" + impl.failed->to_string() + "); reopen the store");
        }
      }
      // The commit point: the batch's record, synced. Before it the batch never happened.
      const std::string record = detail::encode_batch(parts);
      if (auto ok = impl.coordinator->reserve(oplog::encoded_size(0, record.size())); !ok) return ok;
      id = impl.coordinator->append(oplog::op_kind::put, {}, as_bytes(record));
      if (auto ok = impl.coordinator->sync_through(id); !ok) {
        std::lock_guard lock(impl.failed_mutex);
        impl.failed = ok.error();  // the record may be durable: only recovery knows
        return make_error(errc::fatal, "syncing a cross-shard batch: " + ok.error().to_string());
      }
    }
    for (const detail::batch_part& p : parts) {
      if (auto ok = apply_part(*impl.shards[p.shard], p, id); !ok) {
        std::lock_guard lock(impl.failed_mutex);
        impl.failed = ok.error();
        return make_error(errc::fatal,
                          "applying a committed cross-shard batch (reopen to finish it): " + ok.error().to_string());
      }
    }
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "a cross-shard batch");
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
  auto ok = on_every_shard(*impl_, [](store& s) { return s.checkpoint(); });
  // Every shard's tree now holds its parts and markers: the batch records before this point are not needed.
  if (ok && impl_->coordinator) (void)impl_->coordinator->drop_through(impl_->coordinator->last_seq());
  return ok;
}

result<void> sharded_store::close() noexcept {
  impl_->workers.clear();  // each applies what is queued, then stops
  impl_->mode = shard_mode::inline_calls;
  auto ok = on_every_shard(*impl_, [](store& s) { return s.close(); });
  if (ok && impl_->coordinator) (void)impl_->coordinator->drop_through(impl_->coordinator->last_seq());
  impl_->coordinator.reset();
  return ok;
}

}  // namespace tessel
