// The commit protocol of a durable store's tree (docs/design.md §Commits): shadow paging with two meta slots.
//
//   1. seal: fill in the block header {size, checksum32} of every block of the frozen root born since the
//      last durable root (a walk that stops at older blocks: children are never younger than parents);
//   2. persist those blocks (mapped_region::persist: fdatasync, or the named ranges in power-loss mode);
//   3. write the meta slot that does not hold the last durable commit, and make it durable.
// Until 3 is durable the previous meta slot is the store's state; blocks it reaches are never written
// after they became durable (copy-on-write), and a retired block is freed only after a commit that no
// longer reaches it is durable -- so a crash at any instruction leaves one whole tree.
//
// Thread safety: one commit at a time. write() may run while the writer goes on -- the frozen root's blocks
// are immutable, and what it needs of the region's state is in the request -- but adopt() and every
// reader of durable() need the writer's exclusion.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "tessel/error.hpp"

#include "index/art.hpp"
#include "mmap/mapped_region.hpp"
#include "mmap/store_file.hpp"

namespace tessel::detail {

/// Steps of a commit, for crash-injection tests: the hook runs before each; returning false stops the
/// commit there as if the process died (the commit returns errc::aborted, nothing after runs).
enum class commit_step : std::uint8_t { seal, persist_blocks, write_meta };
using commit_hook = std::function<bool(commit_step)>;

/// What one commit makes durable.
struct commit_request {
  index::frozen_root root;
  std::uint64_t leaf_bytes = 0;
  std::uint64_t at_seq = 0;
  std::uint64_t flags = 0;  ///< mmap::meta_flag bits
  /// A clean close's free-extent table: a sealed block (offset of its payload, bytes), persisted with the
  /// commit's blocks. 0: none.
  std::uint64_t free_table = 0;
  std::uint64_t free_table_bytes = 0;
  /// Blocks born at or before this epoch (and the last durable one) are sealed and durable already. Lower
  /// than the last durable epoch after a restore: a snapshot's blocks born after the commit before it was
  /// taken may never have been in a committed tree.
  std::uint64_t sealed_through = UINT64_MAX;
  /// The region as it was when the root was frozen: its frontier bounds the root's blocks, and both go
  /// into the meta slot (a later frontier could name blocks no durable commit made exist).
  std::uint64_t frontier = 0;
  std::uint64_t allocated_bytes = 0;
};

/// The request for a commit of `root` as `region` holds it now. REQUIRES: the writer's exclusion.
[[nodiscard]] commit_request request_for(const mmap::mapped_region& region, const index::frozen_root& root,
                                         std::uint64_t leaf_bytes, std::uint64_t at_seq) noexcept;

class tree_committer {
 public:
  /// `file` is open for writing; `durable_slot` holds its last durable commit.
  tree_committer(std::unique_ptr<mmap::store_file> file, int durable_slot) noexcept;
  /// Moved only while nothing else uses it (open hands it to the store).
  tree_committer(tree_committer&& other) noexcept
      : file_(std::move(other.file_)),
        durable_slot_(other.durable_slot_.load(std::memory_order_relaxed)),
        hook_(std::move(other.hook_)) {}
  tree_committer& operator=(tree_committer&&) = delete;

  /// Steps 1-3 for `req.root`: returns the meta slot that now durably holds it, the one that did not hold
  /// the last durable commit. The store goes on treating durable() as its state until adopt(). Errors:
  /// io_error, no_space, aborted (hook); after any error the previous durable commit stands.
  [[nodiscard]] result<int> write(mmap::mapped_region& region, const commit_request& req) noexcept;
  /// After write() returned `slot`: that commit is durable() from now on.
  void adopt(int slot) noexcept { durable_slot_.store(slot, std::memory_order_release); }

  /// Any thread: a store's get verifying a leaf reads the durable epoch with no lock, while the
  /// checkpointer adopts its commit.
  [[nodiscard]] const mmap::meta_slot& durable() const noexcept { return *file_->slot(durable_slot()); }
  [[nodiscard]] int durable_slot() const noexcept { return durable_slot_.load(std::memory_order_acquire); }
  [[nodiscard]] mmap::store_file& file() noexcept { return *file_; }
  void set_hook(commit_hook hook) noexcept { hook_ = std::move(hook); }

 private:
  [[nodiscard]] bool step(commit_step s) const { return !hook_ || hook_(s); }

  std::unique_ptr<mmap::store_file> file_;
  std::atomic<int> durable_slot_;
  commit_hook hook_;
};

/// Writes the block header of every block under `root` born after `born_after`, and returns their byte
/// ranges (header included). `frontier`: the region's when `root` was frozen, which bounds its blocks.
/// Errors: corruption (a reference outside the region), no_memory.
[[nodiscard]] result<std::vector<mmap::byte_range>> seal_new_blocks(mmap::mapped_region& region, index::node_ref root,
                                                                    std::uint64_t born_after,
                                                                    std::uint64_t frontier) noexcept;

}  // namespace tessel::detail
