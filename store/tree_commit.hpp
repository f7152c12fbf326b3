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
// Thread safety: one commit at a time; the frozen root's blocks are immutable, so the writer may go on.
#pragma once

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
};

class tree_committer {
 public:
  /// `file` is open for writing; `durable_slot` holds its last durable commit.
  tree_committer(std::unique_ptr<mmap::store_file> file, int durable_slot) noexcept;

  /// Makes `req.root` the durable tree (steps above). Errors: io_error, no_space, aborted (hook); after
  /// any error the previous durable commit stands.
  [[nodiscard]] result<void> commit(mmap::mapped_region& region, const commit_request& req) noexcept;

  [[nodiscard]] const mmap::meta_slot& durable() const noexcept { return *file_->slot(durable_slot_); }
  [[nodiscard]] int durable_slot() const noexcept { return durable_slot_; }
  [[nodiscard]] mmap::store_file& file() noexcept { return *file_; }
  void set_hook(commit_hook hook) noexcept { hook_ = std::move(hook); }

 private:
  [[nodiscard]] bool step(commit_step s) const { return !hook_ || hook_(s); }

  std::unique_ptr<mmap::store_file> file_;
  int durable_slot_;
  commit_hook hook_;
};

/// Writes the block header of every block under `root` born after `born_after`, and returns their byte
/// ranges (header included). Errors: corruption (a reference outside the region), no_memory.
[[nodiscard]] result<std::vector<mmap::byte_range>> seal_new_blocks(mmap::mapped_region& region, index::node_ref root,
                                                                    std::uint64_t born_after) noexcept;

}  // namespace tessel::detail
