// The internals behind tessel::store and tessel::cursor: one adaptive radix tree in one mapped_region, and
// for durable stores the commit machinery (durable_state).
//
// Thread safety: as tessel::store. A dram store's writes are not synchronised (one writer). A durable
// store's writes serialise on durable_state::mutex, which also guards commits.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "tessel/options.hpp"
#include "tessel/store.hpp"

#include "index/art.hpp"
#include "mmap/mapped_region.hpp"
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
  recovered_tree recovery;     ///< what open found
  std::mutex mutex;            ///< one writer or committer at a time
  std::uint64_t last_seq = 0;  ///< sequence number of the last applied write
  bool dirty = false;          ///< writes since the last durable commit
  bool closed = false;
  std::optional<error> failed;  ///< set by a failed commit: the store refuses writes until reopened
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
  [[nodiscard]] durable_state* durable() noexcept { return durable_.get(); }
  [[nodiscard]] const durable_state* durable() const noexcept { return durable_.get(); }

  /// Runs `apply` (a tree write returning result<T>) as one write of a durable store at durability `d`.
  template <class Apply>
  auto durable_write(durability d, Apply&& apply) noexcept -> decltype(apply());

  /// Commits the live tree when it changed (or `flags` must be recorded). REQUIRES: durable, mutex held.
  [[nodiscard]] result<void> commit_locked(std::uint64_t flags) noexcept;

 private:
  [[nodiscard]] result<void> writable_locked() const noexcept;

  // Destroyed in reverse: the tree (nothing), the region (unmapped), then the file (lock released).
  std::unique_ptr<durable_state> durable_;
  std::unique_ptr<mmap::mapped_region> region_;
  store_tree tree_;
};

template <class Apply>
auto store_impl::durable_write(durability d, Apply&& apply) noexcept -> decltype(apply()) {
  std::lock_guard lock(durable_->mutex);
  if (auto ok = writable_locked(); !ok) return tl::unexpected(std::move(ok.error()));
  auto r = apply();
  if (!r) return r;
  ++durable_->last_seq;
  durable_->dirty = true;
  if (d != durability::none) {
    if (auto ok = commit_locked(0); !ok) return tl::unexpected(std::move(ok.error()));
  }
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
