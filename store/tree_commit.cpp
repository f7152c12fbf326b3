#include "store/tree_commit.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/wall_clock.hpp"
#include "index/tree_walk.hpp"
#include "store/block_header.hpp"

namespace tessel::detail {

result<std::vector<mmap::byte_range>> seal_new_blocks(mmap::mapped_region& region, index::node_ref root,
                                                      std::uint64_t born_after, std::uint64_t frontier) noexcept {
  std::vector<mmap::byte_range> ranges;
  std::byte* const base = region.base();
  bool out_of_memory = false;
  auto ok = index::walk_blocks(base, root, {mmap::first_block_offset, frontier}, born_after,
                               [&](index::node_ref r, std::size_t size) {
                                 seal_block(base, r.offset(), size);
                                 try {
                                   ranges.push_back({r.offset() - block_header_bytes, size + block_header_bytes});
                                 } catch (...) {
                                   out_of_memory = true;
                                 }
                               });
  if (!ok) return tl::unexpected(std::move(ok.error()));
  if (out_of_memory) return make_error(errc::no_memory, "listing the blocks of a commit");
  return ranges;
}

commit_request request_for(const mmap::mapped_region& region, const index::frozen_root& root, std::uint64_t leaf_bytes,
                           std::uint64_t at_seq) noexcept {
  commit_request req;
  req.root = root;
  req.leaf_bytes = leaf_bytes;
  req.at_seq = at_seq;
  req.frontier = region.frontier();
  req.allocated_bytes = region.usage().live_bytes;
  return req;
}

tree_committer::tree_committer(std::unique_ptr<mmap::store_file> file, int durable_slot) noexcept
    : file_(std::move(file)), durable_slot_(durable_slot) {}

result<int> tree_committer::write(mmap::mapped_region& region, const commit_request& req) noexcept {
  const mmap::meta_slot& last = durable();
  if (!step(commit_step::seal)) return make_error(errc::aborted, "commit stopped before sealing (test hook)");
  // Blocks born at or before the last durable epoch are sealed and durable already (unless a restore says
  // otherwise).
  auto ranges = seal_new_blocks(region, req.root.root, std::min(last.epoch, req.sealed_through), req.frontier);
  if (!ranges) return tl::unexpected(std::move(ranges.error()));
  if (req.free_table != 0) {
    try {
      ranges->push_back({req.free_table - block_header_bytes, req.free_table_bytes + block_header_bytes});
    } catch (...) {
      return make_error(errc::no_memory, "listing the blocks of a commit");
    }
  }

  // Durable point 1: the new blocks (and the file size covering them). Nothing reaches them yet.
  if (!step(commit_step::persist_blocks)) return make_error(errc::aborted, "commit stopped before persisting blocks");
  if (auto ok = region.persist(*ranges); !ok) return tl::unexpected(std::move(ok.error()));

  // Durable point 2: the meta slot not holding `last`. Once it is durable the new tree is the store; a torn
  // write here fails its checksum and open falls back to `last`.
  if (!step(commit_step::write_meta)) return make_error(errc::aborted, "commit stopped before writing the meta slot");
  mmap::meta_slot m;
  m.generation = last.generation + 1;
  m.epoch = req.root.epoch;
  m.root = req.root.root.bits();
  m.key_count = req.root.size;
  m.leaf_bytes = req.leaf_bytes;
  m.at_seq = req.at_seq;
  m.frontier = req.frontier;
  m.allocated_bytes = req.allocated_bytes;
  m.flags = req.flags;
  m.committed_unix_ns = unix_time_ns();
  m.free_table = req.free_table;
  m.free_table_bytes = req.free_table_bytes;
  const int target = 1 - durable_slot();
  if (auto ok = file_->write_meta(target, m); !ok) return tl::unexpected(std::move(ok.error()));
  return target;
}

}  // namespace tessel::detail
