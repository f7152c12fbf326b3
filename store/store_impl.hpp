// The internals behind tessel::store and tessel::cursor: one adaptive radix tree in one region -- a
// mapped_region (dram, mmap) or a pool_region (pmem), behind tree_region -- and for durable stores the commit
// machinery (durable_state).
//
// Thread safety: as tessel::store. A dram store's writes are not synchronised (one writer). A durable
// store's writes serialise on durable_state::mutex, which also guards commits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tessel/function_ref.hpp"
#include "tessel/options.hpp"
#include "tessel/store.hpp"

#include "common/background_job.hpp"
#include "index/art.hpp"
#include "log/log_writer.hpp"
#include "mmap/mapped_region.hpp"
#include "pmem/pool_log.hpp"
#include "pmem/pool_region.hpp"
#include "store/free_table.hpp"
#include "store/named_roots.hpp"
#include "store/pool_recovery.hpp"
#include "store/published_version.hpp"
#include "store/snapshot_catalog.hpp"
#include "store/snapshot_registry.hpp"
#include "store/snapshot_state.hpp"
#include "store/tree_commit.hpp"
#include "store/tree_recovery.hpp"
#include "store/tree_region.hpp"

namespace tessel::detail {

using store_tree = index::art<tree_region>;

/// What a durable store has beyond its tree. The file-backed parts (committer, recovery, log) are an mmap
/// store's; pool_recovery, pool_log and pool_hook a pmem store's.
struct durable_state {
  /// An mmap store.
  durable_state(tree_committer c, const options& o, recovered_tree r) noexcept
      : committer(std::move(c)), opts(o), recovery(std::move(r)) {}
  /// A pmem store.
  durable_state(const options& o, pool_recovery r) noexcept : opts(o), pool_recovery(std::move(r)) {}

  std::optional<tree_committer> committer;  ///< mmap
  options opts;
  recovered_tree recovery;                      ///< mmap: what open found in the data file
  tessel::detail::pool_recovery pool_recovery;  ///< pmem: what open found in the pool
  std::unique_ptr<pmem::pool_log> pool_log;     ///< pmem: the log area; null when read-only
  commit_hook pool_hook;                        ///< pmem: crash injection for tests (tree_commit.hpp)
  std::uint64_t replayed_records = 0;           ///< log records open applied on top of it
  std::unique_ptr<oplog::log_writer> log;       ///< mmap: null when read-only
  /// mmap: the last log seq a write left for its caller to sync (deferred_sync.hpp). Records after it that
  /// nobody owes (a cross-shard part, covered by its durable coordinator record) need no settling.
  std::atomic<std::uint64_t> owed_through{0};
  /// One writer or committer at a time (mutable: const readers of the allocator's figures take it too,
  /// since the checkpointer frees blocks whenever it ends a commit).
  mutable std::mutex mutex;
  bool dirty = false;                     ///< writes since the last commit froze the tree
  std::uint64_t log_bytes_at_commit = 0;  ///< log->retained_bytes() at the last commit's freeze, less its drop
  std::chrono::steady_clock::time_point first_dirty{};  ///< of the first write since the last commit
  // mmap: the policy's checkpoints run on the store's checkpointer thread, which writes and syncs with the
  // mutex released (docs/design.md §Checkpoints).
  bool checkpoint_requested = false;  ///< asked of the checkpointer, which has not frozen the tree yet
  bool commit_in_flight = false;      ///< a commit writes with the mutex released; no other commit starts
  std::uint64_t in_flight_epoch = 0;  ///< its frozen root's epoch, which reclaims must keep
  /// Notified when a requested or in-flight commit ends. `_any`: it waits on `mutex` itself, which callers
  /// of commit_locked hold through guards of their own.
  std::condition_variable_any commit_ended;
  bool closed = false;
  std::optional<error> failed;      ///< set by a failed commit or log sync: writes refused until reopened
  std::filesystem::path directory;  ///< the store's directory (its snapshot catalog lives there)
  catalog_store_id store_id{};      ///< written into the snapshot catalog
};

/// What a write puts in the operation log.
struct log_entry {
  oplog::op_kind kind;
  key_view key;
  value_view value;
};

class store_impl {
 public:
  /// A dram store.
  explicit store_impl(std::unique_ptr<mmap::mapped_region> region) noexcept
      : mapped_(std::move(region)), region_(*mapped_), tree_(region_) {}
  /// An mmap store whose tree `durable->recovery` found.
  store_impl(std::unique_ptr<mmap::mapped_region> region, std::unique_ptr<durable_state> durable) noexcept;
  /// A pmem store; its tree is the one the pool's root object names.
  store_impl(std::unique_ptr<pmem::pool_region> pool, std::unique_ptr<durable_state> durable) noexcept;

  [[nodiscard]] store_tree& tree() noexcept { return tree_; }
  [[nodiscard]] const store_tree& tree() const noexcept { return tree_; }
  [[nodiscard]] const tree_region& region() const noexcept { return region_; }
  /// The mapped region of a dram or mmap store; null for pmem.
  [[nodiscard]] mmap::mapped_region* mapped() noexcept { return mapped_.get(); }
  [[nodiscard]] const mmap::mapped_region* mapped() const noexcept { return mapped_.get(); }
  /// The pool of a pmem store; null otherwise.
  [[nodiscard]] pmem::pool_region* pool() noexcept { return pool_.get(); }
  [[nodiscard]] const pmem::pool_region* pool() const noexcept { return pool_.get(); }
  /// The epoch of the last durable commit. REQUIRES: durable.
  [[nodiscard]] std::uint64_t durable_epoch() const noexcept {
    return pool_ ? pool_->root().meta.epoch : durable_->committer->durable().epoch;
  }
  /// True when get() must verify the leaf it returns (options.verify_checksums_on_read).
  [[nodiscard]] bool verify_reads() const noexcept { return verify_reads_; }
  /// Checks the committed leaf holding `value` (found under `key`) against its block header.
  /// Errors: corruption naming the leaf's offset.
  [[nodiscard]] result<void> verify_leaf(key_view key, value_view value) const noexcept;
  /// tree_region::ensure_room. REQUIRES: the writer's exclusion.
  [[nodiscard]] result<void> ensure_room(std::uint64_t bytes) noexcept { return region_.ensure_room(bytes); }
  [[nodiscard]] durable_state* durable() noexcept { return durable_.get(); }
  [[nodiscard]] const durable_state* durable() const noexcept { return durable_.get(); }

  /// Runs `apply` (a tree write returning result<T>) as one write of a durable store, logged as `entry`,
  /// durable as `d` says. The log has room for the record before the tree changes, so a write that fails
  /// changes nothing. When T is bool, false means the write changed nothing (erasing a missing key): it is
  /// neither logged nor waited for. Entry's views may point into the region (a value read from the store):
  /// they are copied first, since the write may free what they point at before the record is appended.
  /// `sync_left`: when set, a wait for the log's fdatasync that durability log asks for is not made but
  /// left there (the record's seq; 0 when nothing is owed), for sync_log() once the caller has released
  /// its own locks (deferred_sync.hpp).
  template <class Apply>
  auto durable_write(durability d, const log_entry& entry, Apply&& apply, std::uint64_t* sync_left = nullptr) noexcept
      -> decltype(apply());

  /// Receives the entries of a sorted load, in strictly ascending key order.
  using sorted_sink = function_ref<result<void>(key_view, value_view)>;
  /// Fills the empty live tree with what `produce` hands its sink, built bottom-up
  /// (index/art_sorted_loader.hpp). A durable store holds its mutex throughout and logs nothing: its next
  /// commit makes the load durable, and a crash before that leaves the store as empty as it was. On any
  /// error the tree is left empty; a tree that is not empty is refused (invalid_argument). REQUIRES: not a
  /// pmem store (its unpublished reservations would pile up until the commit: pmem loads take puts, which
  /// the checkpoint policy bounds).
  [[nodiscard]] result<void> load_sorted(function_ref<result<void>(sorted_sink)> produce) noexcept;
  /// A put with no log record, for loads that must be all or nothing (`tessel load`): its next commit
  /// makes it durable, and a crash before that loses it. REQUIRES: a durable store that is not a pmem
  /// store (as load_sorted). Errors: as store::put.
  [[nodiscard]] result<void> put_unlogged(key_view key, value_view value) noexcept;
  /// store::compact(): rebuilds the live tree in key order (art::compact); a durable store then commits.
  [[nodiscard]] result<void> compact(const std::function<void(std::uint64_t)>& progress) noexcept;

  /// Commits the live tree when it changed (or `flags` must be recorded), then drops the log segments no
  /// meta slot needs. First waits for a commit in flight (releasing the mutex meanwhile). REQUIRES:
  /// durable, mutex held.
  [[nodiscard]] result<void> commit_locked(std::uint64_t flags, free_table_ref table = {}) noexcept;
  /// Waits, releasing the mutex meanwhile, until no commit is in flight. REQUIRES: durable, mutex held.
  void wait_for_commit_in_flight_locked() noexcept;
  /// Waits, releasing the mutex meanwhile, until the checkpointer has nothing asked of it and nothing under
  /// way -- no commit, no reclaim in slices (checkpoint(); tests). REQUIRES: durable, mutex held.
  void wait_for_checkpointer_locked() noexcept;
  /// Waits, releasing the mutex meanwhile, until no reclaim in slices is under way (a restore, which must
  /// not run beside one). REQUIRES: durable, mutex held.
  void wait_for_reclaim_locked() noexcept;
  /// Stops the checkpointer thread, letting a commit in flight end (close). REQUIRES: mutex NOT held.
  void stop_checkpointer() noexcept {
    if (checkpointer_) checkpointer_->stop();
  }
  /// close(): commits the tree, then records the free space and commits again with the clean-close flag, so
  /// the next open skips the tree walk. REQUIRES: durable, mutex held.
  [[nodiscard]] result<void> close_locked() noexcept;
  /// Makes every write so far durable through the log (a file log's group commit). REQUIRES: durable, an
  /// mmap store, mutex NOT held.
  [[nodiscard]] result<void> sync_log(std::uint64_t seq) noexcept;

  // ---- Snapshots (store/snapshot.cpp) ----

  /// Freezes the live tree into a registered snapshot. REQUIRES: the writer's exclusion (a durable store's
  /// mutex). Errors: no_memory, changing nothing.
  [[nodiscard]] result<std::shared_ptr<snapshot_state>> take_snapshot() noexcept;
  /// Makes `snap`'s version the live tree. REQUIRES: the writer's exclusion; `snap` is of this store.
  /// Errors: no_memory, changing nothing.
  [[nodiscard]] result<void> restore_snapshot(const snapshot_state& snap) noexcept;
  /// After a write: frees retired blocks once the retired list has doubled since the last reclaim (a
  /// reclaim scans all of it), or right after the last snapshot is released. REQUIRES: the writer's exclusion.
  /// Inline, since every write of a store that never took a snapshot returns at the first test.
  void maybe_reclaim() noexcept {
    if (snapshots_) reclaim_if_due();  // nothing is frozen but durable commits, which reclaim themselves
  }
  /// Frees every retired block that no live snapshot and no durable commit reaches.
  void reclaim_unpinned() noexcept;
  [[nodiscard]] std::size_t live_snapshots() const noexcept { return snapshots_ ? snapshots_->count() : 0; }
  /// Makes the frozen root `at` (with `leaf_bytes`, holding the log through `at_seq`) the version
  /// published() returns; the version it replaces is released once its readers let go. A version older
  /// than the published one is not published: published() never goes back (a checkpoint ends after newer
  /// versions were published). REQUIRES: the writer's exclusion; reclaim has kept `at`. Errors: no_memory
  /// (nothing published).
  [[nodiscard]] result<void> publish_frozen(const index::frozen_root& at, std::size_t leaf_bytes,
                                            std::uint64_t at_seq) noexcept;
  /// The last published version, or null. Any thread.
  [[nodiscard]] std::shared_ptr<snapshot_state> published() const noexcept { return published_.load(); }
  /// Stops publishing the current version (close: readers that still hold it keep it).
  void unpublish() noexcept { replace_published(nullptr); }
  /// The seq of the last write applied to the live tree (0 for a dram store). REQUIRES: the writer's
  /// exclusion.
  [[nodiscard]] std::uint64_t last_seq() const noexcept;

  // ---- Named snapshots (store/named_snapshots.cpp) ----

  /// At open, before anything is written: pins the catalog's snapshots (`records`), retires the blocks only
  /// they reach (`only`, from recovery), and opens an epoch after the newest. Errors: no_memory.
  [[nodiscard]] result<void> adopt_named_snapshots(std::vector<named_snapshot_record> records,
                                                   std::span<const named_only_block> only) noexcept;
  /// store::create_named_snapshot. REQUIRES: the writer's exclusion.
  [[nodiscard]] result<named_snapshot_info> create_named(std::string_view name) noexcept;
  /// store::drop_named_snapshot. REQUIRES: the writer's exclusion.
  [[nodiscard]] result<void> drop_named(std::string_view name) noexcept;
  /// Any thread. Throws std::bad_alloc.
  [[nodiscard]] std::vector<named_snapshot_info> named_list() const;
  /// The named snapshot's state, or null. Any thread.
  [[nodiscard]] std::shared_ptr<snapshot_state> find_named(std::string_view name) const noexcept;

 private:
  [[nodiscard]] result<void> writable_locked() const noexcept;
  /// The checkpoint policy: options.checkpoint_log_bytes of log, or checkpoint_interval, since the last
  /// commit; in a pmem store also a bound on the actions waiting for the next publish.
  [[nodiscard]] bool checkpoint_due_locked() const noexcept;
  /// Makes room in the log for `entry` before the tree changes. A pmem store whose log area is full
  /// commits first (the commit empties the area). Sets `commit_instead` when the record cannot fit even in
  /// an empty area, or when it is a batch and the pool predates batch records (pmem::pool_batch_records):
  /// the write is then made durable by a commit right after it, without a record.
  [[nodiscard]] result<void> make_room_locked(const log_entry& entry, bool& commit_instead) noexcept;
  /// Logs `entry` and returns its seq; a pmem store persists the record here when `d` asks for it.
  [[nodiscard]] result<std::uint64_t> append_locked(const log_entry& entry, durability d, bool commit_instead) noexcept;
  /// The commit of an mmap store. `unlocked_io`: the blocks and the meta slot are written and synced with
  /// the mutex released, the commit marked in flight meanwhile (the checkpointer).
  [[nodiscard]] result<void> commit_file_locked(std::uint64_t flags, free_table_ref table, bool unlocked_io) noexcept;
  /// The policy asks for a checkpoint after a write: an mmap store hands it to its checkpointer (unless one
  /// is on its way), a pmem store commits now. REQUIRES: durable, mutex held.
  [[nodiscard]] result<void> checkpoint_by_policy_locked() noexcept;
  /// The checkpointer's job: a commit of what was written since the last one.
  void checkpoint_in_background() noexcept;
  /// Ends the commit in flight, if one is, waking who waits for it.
  void end_commit_in_flight_locked() noexcept;
  /// After the checkpointer's commit of the frozen root of epoch `committed`: frees what neither it nor a
  /// snapshot reaches, in slices between which the mutex is released (art::begin_reclaim).
  void reclaim_in_slices_locked(std::uint64_t committed) noexcept;
  [[nodiscard]] result<void> commit_pool_locked(std::uint64_t flags) noexcept;
  void reclaim_if_due() noexcept;
  /// After a commit of the frozen root of epoch `committed`: frees what neither it nor a snapshot reaches.
  void reclaim_after_commit(std::uint64_t committed) noexcept;

  // Destroyed in reverse: the tree (nothing), the region, the pool (closed) or mapping (unmapped), then the
  // file (lock released).
  std::unique_ptr<durable_state> durable_;
  std::unique_ptr<mmap::mapped_region> mapped_;
  std::unique_ptr<pmem::pool_region> pool_;
  tree_region region_;
  store_tree tree_;
  bool verify_reads_ = false;
  std::shared_ptr<snapshot_registry> snapshots_;  // made by the first snapshot
  struct named_entry {
    named_snapshot_record record;
    std::shared_ptr<snapshot_state> state;  // keeps the version pinned while it is named
  };
  // The writer changes named_ (under the writer's exclusion); the mutex lets readers on other threads list it.
  mutable std::mutex named_mutex_;
  std::vector<named_entry> named_;
  /// The catalog's records: every name but `skip`'s. REQUIRES: the writer's exclusion. Throws bad_alloc.
  [[nodiscard]] std::vector<named_snapshot_record> records_except(const named_entry* skip) const;
  /// Replaces a durable store's catalog with `records`, durably (snapshot_catalog.hpp).
  [[nodiscard]] result<void> persist_catalog(std::span<const named_snapshot_record> records) const noexcept;
  /// Installs `next` as the published version; the one it replaces goes once its readers are gone.
  void replace_published(std::shared_ptr<snapshot_state> next) noexcept { published_.replace(std::move(next)); }
  // store::published(), read with no lock by any thread (std::atomic<std::shared_ptr> would not do: in
  // libstdc++ 12 it is lock-based, and opaque to ThreadSanitizer).
  published_version published_;
  // mmap: blocks born after this epoch may be unsealed in the live tree (a restored snapshot's); the next
  // commit seals from here (tree_commit.hpp, commit_request::sealed_through).
  std::uint64_t unsealed_after_ = UINT64_MAX;
  std::size_t reclaim_at_ = min_reclaim_batch;  // retired blocks that make maybe_reclaim() run
  static constexpr std::size_t min_reclaim_batch = 4096;
  // mmap stores that can write: the thread of the policy's checkpoints. Last, so it stops first: its job
  // uses everything above.
  std::unique_ptr<background_job> checkpointer_;
};

template <class Apply>
auto store_impl::durable_write(durability d, const log_entry& given, Apply&& apply, std::uint64_t* sync_left) noexcept
    -> decltype(apply()) {
  log_entry entry = given;
  std::string owned_key;
  std::string owned_value;
  if (TESSEL_UNLIKELY(region_.contains(given.key.data()) || region_.contains(given.value.data()))) {
    try {
      owned_key.assign(as_string_view(given.key));
      owned_value.assign(as_string_view(given.value));
    } catch (...) {
      return make_error(errc::no_memory, "copying a key or value that points into the store");
    }
    entry = {given.kind, as_bytes(owned_key), as_bytes(owned_value)};
  }
  std::uint64_t seq = 0;
  auto r = [&]() -> decltype(apply()) {
    std::lock_guard lock(durable_->mutex);
    if (auto ok = writable_locked(); !ok) return tl::unexpected(std::move(ok.error()));
    bool commit_instead = false;
    if (auto ok = make_room_locked(entry, commit_instead); !ok) return tl::unexpected(std::move(ok.error()));
    auto applied = apply();
    bool used_spare = false;
    if (!applied && pool_ && applied.error().code() == errc::no_space) {
      // A full pool. Blocks freed since the last commit return to libpmemobj only when a publish frees
      // them: commit, then try once more. A delete that still finds no room may use the spare
      // (pool_region::hold_spare); the commit right after it frees what it deleted and takes the spare back.
      if (durable_->dirty) {
        if (auto ok = commit_locked(0); !ok) return tl::unexpected(std::move(ok.error()));
        applied = apply();
      }
      const bool deletes = entry.kind == oplog::op_kind::erase || entry.kind == oplog::op_kind::clear;
      if (!applied && applied.error().code() == errc::no_space && deletes) {
        pool_->release_spare();
        used_spare = true;
        applied = apply();
        if (!applied) pool_->hold_spare();
      }
    }
    if (!applied) return applied;
    if constexpr (std::is_same_v<typename decltype(applied)::value_type, bool>) {
      if (!*applied) return applied;
    }
    maybe_reclaim();
    auto logged = append_locked(entry, d, commit_instead);
    if (!logged) return tl::unexpected(std::move(logged.error()));
    seq = *logged;
    if (!durable_->dirty) durable_->first_dirty = std::chrono::steady_clock::now();
    durable_->dirty = true;
    if (d == durability::sync || commit_instead || used_spare) {
      if (auto ok = commit_locked(0); !ok) return tl::unexpected(std::move(ok.error()));
    } else if (checkpoint_due_locked()) {
      if (auto ok = checkpoint_by_policy_locked(); !ok) return tl::unexpected(std::move(ok.error()));
    }
    return applied;
  }();
  // A pmem store's record is durable already (append_locked); a file log's waits for its fdatasync.
  if (!r || d != durability::log || seq == 0 || pool_) return r;
  if (sync_left != nullptr) {
    *sync_left = seq;
    return r;
  }
  // Outside the mutex, so concurrent writers share one fdatasync (group commit).
  if (auto ok = sync_log(seq); !ok) return tl::unexpected(std::move(ok.error()));
  return r;
}

/// A cursor over the live tree, or over a snapshot's frozen root. Writes may replace the live root
/// (copy-on-write after a commit), so every seek of a live cursor starts from the tree's current root; a
/// snapshot's cursor holds the snapshot, so its version outlives any handle the caller drops.
class cursor_impl {
 public:
  explicit cursor_impl(const store_tree& tree) noexcept : tree_(&tree), cursor_(tree.cursor()) {}
  cursor_impl(const store_tree& tree, const index::frozen_root& at, std::shared_ptr<const void> hold) noexcept
      : tree_(&tree), cursor_(tree.cursor(at)), fixed_root_(at.root), hold_(std::move(hold)) {}
  [[nodiscard]] index::art_cursor<tree_region>& reseek() noexcept {
    cursor_.reset_root(hold_ ? fixed_root_ : tree_->root());
    return cursor_;
  }
  const store_tree* tree_;
  index::art_cursor<tree_region> cursor_;
  index::node_ref fixed_root_;
  std::shared_ptr<const void> hold_;  // the snapshot_state of a snapshot's cursor
};

}  // namespace tessel::detail

namespace tessel::detail {

/// The internals of a store, for the CLI (info, check) and tests (crash hooks).
struct store_access {
  [[nodiscard]] static std::unique_ptr<store> make(std::unique_ptr<store_impl> impl) {
    return std::unique_ptr<store>(new store(std::move(impl)));
  }
  /// Tests: runs `hook` before each step of every later commit (tree_commit.hpp).
  static void set_commit_hook(store& s, commit_hook hook) noexcept {
    durable_state& d = *s.impl_->durable();
    std::lock_guard lock(d.mutex);
    s.impl_->wait_for_commit_in_flight_locked();  // its thread reads the hook with the mutex released
    if (d.committer) {
      d.committer->set_hook(std::move(hook));
    } else {
      d.pool_hook = std::move(hook);
    }
  }
  [[nodiscard]] static store_impl& impl(store& s) noexcept { return *s.impl_; }
  [[nodiscard]] static const store_impl& impl(const store& s) noexcept { return *s.impl_; }
  /// Tests: returns once the checkpoints the policy asked for so far have ended (docs/design.md
  /// §Checkpoints: they run on the store's checkpointer thread).
  static void wait_for_checkpoints(store& s) noexcept {
    durable_state& d = *s.impl_->durable();
    std::lock_guard lock(d.mutex);
    s.impl_->wait_for_checkpointer_locked();
  }
  /// Tests: drops a durable store as a crash would -- no commit, no clean close. Only what was made durable
  /// stays (with options.simulate_power_loss, exactly that; otherwise the page cache may add more).
  static void abandon(std::unique_ptr<store> s) noexcept { abandon_owned(*s); }
  /// Tests: abandon() of a store something else owns (a sharded store's shard); its owner's close then
  /// leaves it as the crash did.
  static void abandon_owned(store& s) noexcept {
    if (durable_state* d = s.impl_->durable()) {
      std::lock_guard lock(d->mutex);
      d->closed = true;
    }
  }
};

/// store::get of `key` for the store's writer about to write it (a transaction's decision, which holds the
/// store): a put of the key right after, with nothing else changed between, overwrites a same-size value
/// in place without walking the tree again (art::find_for_update).
[[nodiscard]] result<value_view> get_for_update(store& s, key_view key) noexcept;

}  // namespace tessel::detail
