#include "store/tree_recovery.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "index/tree_walk.hpp"
#include "store/block_header.hpp"
#include "store/free_table.hpp"

namespace tessel::detail {

namespace {

/// Walks the tree of `meta` and adopts its blocks. Changes nothing in `region` on error.
result<recovered_tree> adopt_tree(const mmap::store_file& file, mmap::mapped_region& region, int slot,
                                  const mmap::meta_slot& meta, bool verify) noexcept {
  try {
    const std::string where = "meta slot " + std::to_string(slot) + ": ";
    if (meta.frontier > file.size_at_open()) {
      return make_error(errc::corruption, where + "its tree ends at byte " + std::to_string(meta.frontier) +
                                              " but the store file has only " + std::to_string(file.size_at_open()) +
                                              " (truncated?)");
    }
    std::vector<block_allocator::extent> extents;
    extents.reserve(meta.key_count + meta.key_count / 2 + 1);
    std::optional<std::string> problem;
    std::byte* const base = region.base();
    const index::node_ref root = index::node_ref::from_bits(meta.root);
    auto walked = index::walk_blocks(base, root, {mmap::first_block_offset, meta.frontier}, 0,
                                     [&](index::node_ref r, std::size_t size) {
                                       if (verify && !problem)
                                         problem = block_problem(base, r.offset(), size, r.is_leaf() ? "leaf" : "node");
                                       extents.push_back(region.extent_of(r.offset(), size));
                                     });
    if (!walked) return make_error(walked.error().code(), where + std::string(walked.error().message()));
    if (problem) return make_error(errc::corruption, where + *problem);
    std::sort(extents.begin(), extents.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
    recovered_tree out;
    out.slot = slot;
    out.meta = meta;
    out.blocks = extents.size();
    for (const auto& e : extents) out.block_bytes += e.size;
    if (auto ok = region.adopt(extents, meta.frontier); !ok) {
      return make_error(errc::corruption, where + std::string(ok.error().message()));
    }
    return out;
  } catch (...) {
    return make_error(errc::no_memory, "walking the durable tree");
  }
}

/// After a clean close: the allocator from the recorded free space, the record's own block freed again.
/// An error means the record is unusable; the caller walks the tree instead.
result<recovered_tree> adopt_free_table(mmap::mapped_region& region, int slot, const mmap::meta_slot& meta) noexcept {
  const free_table_ref table{meta.free_table, meta.free_table_bytes};
  auto free = read_free_table(region, table, meta.frontier);
  if (!free) return tl::unexpected(std::move(free.error()));
  if (auto ok = region.adopt_free(*free, meta.frontier); !ok) return tl::unexpected(std::move(ok.error()));
  region.deallocate(table.offset, table.bytes);
  recovered_tree out;
  out.slot = slot;
  out.meta = meta;
  out.from_free_table = true;
  out.block_bytes = region.usage().live_bytes;
  return out;
}

}  // namespace

result<recovered_tree> recover_tree(const mmap::store_file& file, mmap::mapped_region& region,
                                    bool verify_checksums) noexcept {
  const auto started = std::chrono::steady_clock::now();
  auto newest = file.newest_slot();
  if (!newest) return tl::unexpected(std::move(newest.error()));
  const int first = *newest;
  const int other = 1 - first;
  // A damaged other slot may have held the newest commit, making `first` a fallback whose retired blocks
  // may have been freed and reused since: verify its blocks as any fallback's. (An unwritten slot 1 of a
  // store that never committed fails too; its tree is empty, so the check costs nothing.)
  const bool maybe_fallback = !file.slot(other).has_value();
  const mmap::meta_slot& meta = *file.slot(first);
  if (!verify_checksums && !maybe_fallback && (meta.flags & mmap::clean_close) != 0 && meta.free_table != 0 &&
      meta.frontier <= file.size_at_open()) {
    if (auto fast = adopt_free_table(region, first, meta)) {
      fast->elapsed = std::chrono::steady_clock::now() - started;
      return fast;
    }
  }
  auto tree = adopt_tree(file, region, first, meta, verify_checksums || maybe_fallback);
  if (!tree) {
    if (!file.slot(other)) {
      return make_error(errc::corruption, std::string(tree.error().message()) + "; and " +
                                              std::string(file.slot(other).error().message()));
    }
    // The older tree may have lost blocks to reuse after the newer commit: verify every one.
    auto older = adopt_tree(file, region, other, *file.slot(other), true);
    if (!older) {
      return make_error(errc::corruption, std::string(tree.error().message()) +
                                              "; falling back: " + std::string(older.error().message()));
    }
    older->fallback = std::string(tree.error().message());
    tree = std::move(older);
  }
  tree->elapsed = std::chrono::steady_clock::now() - started;
  return tree;
}

}  // namespace tessel::detail
