// The internals behind tessel::store and tessel::cursor: one adaptive radix tree in one mapped_region, and
// for durable stores the commit machinery (durable_state).
//
// Thread safety: as tessel::store. A dram store's writes are not synchronised (one writer). A durable
// store's writes serialise on durable_state::mutex, which also guards commits.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>

#include "tessel/options.hpp"
#include "tessel/store.hpp"

#include "index/art.hpp"
#include "log/log_writer.hpp"
#include "mmap/mapped_region.hpp"
#include "store/free_table.hpp"
#include "store/tree_commit.hpp"
#include "store/tree_recovery.hpp"

namespace tessel::detail {

using store_tree = index::art<mmap::mapped_region>;

/// What a durable store has beyond its tree.
struct durable_state {
  durable_state(tree_committer c, const options& o, recovered_tree r) noexcept
      : committer(std::move(c)), opts(o), recovery(std::move(r)) {}

  tree_committer committer;
  options opts;
  recovered_tree recovery;                              ///< what open found in the data file
  std::uint64_t replayed_records = 0;                   ///< log records open applied on top of it
  std::unique_ptr<oplog::log_writer> log;               ///< null when read-only
  std::mutex mutex;                                     ///< one writer or committer at a time
  bool dirty = false;                                   ///< writes since the last durable commit
  std::uint64_t log_bytes_at_commit = 0;                ///< log->retained_bytes() right after the last commit
  std::chrono::steady_clock::time_point first_dirty{};  ///< of the first write since the last commit
  bool closed = false;
  std::optional<error> failed;  ///< set by a failed commit or log sync: writes refused until reopened
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
      : region_(std::move(region)), tree_(*region_) {}
  /// A durable store whose tree `durable->recovery` found.
  store_impl(std::unique_ptr<mmap::mapped_region> region, std::unique_ptr<durable_state> durable) noexcept;

  [[nodiscard]] store_tree& tree() noexcept { return tree_; }
  [[nodiscard]] const store_tree& tree() const noexcept { return tree_; }
  [[nodiscard]] mmap::mapped_region& region() noexcept { return *region_; }
  [[nodiscard]] const mmap::mapped_region& region() const noexcept { return *region_; }
  /// True when get() must verify the leaf it returns (options.verify_checksums_on_read).
  [[nodiscard]] bool verify_reads() const noexcept { return verify_reads_; }
  /// Checks the committed leaf holding `value` (found under `key`) against its block header.
  /// Errors: corruption naming the leaf's offset.
  [[nodiscard]] result<void> verify_leaf(key_view key, value_view value) const noexcept;
  [[nodiscard]] durable_state* durable() noexcept { return durable_.get(); }
  [[nodiscard]] const durable_state* durable() const noexcept { return durable_.get(); }

  /// Runs `apply` (a tree write returning result<T>) as one write of a durable store, logged as `entry`,
  /// durable as `d` says. The log has room for the record before the tree changes, so a write that fails
  /// changes nothing. When T is bool, false means the write changed nothing (erasing a missing key): it is
  /// neither logged nor waited for. Entry's views may point into the region (a value read from the store):
  /// they are copied first, since the write may free what they point at before the record is appended.
  template <class Apply>
  auto durable_write(durability d, const log_entry& entry, Apply&& apply) noexcept -> decltype(apply());

  /// Commits the live tree when it changed (or `flags` must be recorded), then drops the log segments no
  /// meta slot needs. REQUIRES: durable, mutex held.
  [[nodiscard]] result<void> commit_locked(std::uint64_t flags, free_table_ref table = {}) noexcept;
  /// close(): commits the tree, then records the free space and commits again with the clean-close flag, so
  /// the next open skips the tree walk. REQUIRES: durable, mutex held.
  [[nodiscard]] result<void> close_locked() noexcept;
  /// Makes every write so far durable through the log. REQUIRES: durable, mutex NOT held.
  [[nodiscard]] result<void> sync_log(std::uint64_t seq) noexcept;

 private:
  [[nodiscard]] result<void> writable_locked() const noexcept;
  /// The checkpoint policy: options.checkpoint_log_bytes of log, or checkpoint_interval, since the last commit.
  [[nodiscard]] bool checkpoint_due_locked() const noexcept;

  // Destroyed in reverse: the tree (nothing), the region (unmapped), then the file (lock released).
  std::unique_ptr<durable_state> durable_;
  std::unique_ptr<mmap::mapped_region> region_;
  store_tree tree_;
  bool verify_reads_ = false;
};

template <class Apply>
auto store_impl::durable_write(durability d, const log_entry& given, Apply&& apply) noexcept -> decltype(apply()) {
  log_entry entry = given;
  std::string owned_key;
  std::string owned_value;
  if (TESSEL_UNLIKELY(region_->contains(given.key.data()) || region_->contains(given.value.data()))) {
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
    if (auto ok = durable_->log->reserve(oplog::encoded_size(entry.key.size(), entry.value.size())); !ok) {
      return tl::unexpected(std::move(ok.error()));
    }
    auto applied = apply();
    if (!applied) return applied;
    if constexpr (std::is_same_v<typename decltype(applied)::value_type, bool>) {
      if (!*applied) return applied;
    }
    seq = durable_->log->append(entry.kind, entry.key, entry.value);
    if (!durable_->dirty) durable_->first_dirty = std::chrono::steady_clock::now();
    durable_->dirty = true;
    if (d == durability::sync || checkpoint_due_locked()) {
      if (auto ok = commit_locked(0); !ok) return tl::unexpected(std::move(ok.error()));
    }
    return applied;
  }();
  if (!r || d != durability::log || seq == 0) return r;
  // Outside the mutex, so concurrent writers share one fdatasync (group commit).
  if (auto ok = sync_log(seq); !ok) return tl::unexpected(std::move(ok.error()));
  return r;
}

/// A cursor over the live tree. Writes may replace the root (copy-on-write after a commit), so every seek
/// starts from the tree's current root.
class cursor_impl {
 public:
  explicit cursor_impl(const store_tree& tree) noexcept : tree_(&tree), cursor_(tree.cursor()) {}
  [[nodiscard]] index::art_cursor<mmap::mapped_region>& reseek() noexcept {
    cursor_.reset_root(tree_->root());
    return cursor_;
  }
  const store_tree* tree_;
  index::art_cursor<mmap::mapped_region> cursor_;
};

}  // namespace tessel::detail

namespace tessel::detail {

/// The internals of a store, for the CLI (info, check) and tests (crash hooks).
struct store_access {
  [[nodiscard]] static store_impl& impl(store& s) noexcept { return *s.impl_; }
  [[nodiscard]] static const store_impl& impl(const store& s) noexcept { return *s.impl_; }
  /// Tests: drops a durable store as a crash would -- no commit, no clean close. Only what was made durable
  /// stays (with options.simulate_power_loss, exactly that; otherwise the page cache may add more).
  static void abandon(std::unique_ptr<store> s) noexcept {
    if (durable_state* d = s->impl_->durable()) {
      std::lock_guard lock(d->mutex);
      d->closed = true;
    }
  }
};

}  // namespace tessel::detail
