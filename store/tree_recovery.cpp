#include "store/tree_recovery.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "index/tree_walk.hpp"
#include "store/block_header.hpp"
#include "store/free_table.hpp"
#include "store/named_roots.hpp"

namespace tessel::detail {

namespace {

/// Which 8-byte granules of [first_block_offset, frontier) reachable blocks occupy. Marking a bitmap and
/// reading its runs back costs a few word operations per block; sorting a list of millions of extents cost
/// a quarter of a recovery's time (measured at 1 GB).
class occupancy {
 public:
  explicit occupancy(std::uint64_t frontier) : words_(((frontier - mmap::first_block_offset) / 8 + 63) / 64, 0) {}

  /// Marks `e`; false when some of it was marked already (two blocks overlap).
  bool mark(const block_allocator::extent& e) noexcept {
    std::uint64_t bit = (e.offset - mmap::first_block_offset) / 8;
    std::uint64_t left = e.size / 8;
    bool fresh = true;
    while (left > 0) {
      const std::uint64_t in_word = std::min<std::uint64_t>(left, 64 - bit % 64);
      const std::uint64_t mask = (in_word == 64 ? ~0ULL : ((1ULL << in_word) - 1)) << (bit % 64);
      std::uint64_t& w = words_[bit / 64];
      fresh = fresh && (w & mask) == 0;
      w |= mask;
      bit += in_word;
      left -= in_word;
    }
    return fresh;
  }

  /// True when every granule of `e` is marked.
  [[nodiscard]] bool marked(const block_allocator::extent& e) const noexcept {
    const std::uint64_t first = (e.offset - mmap::first_block_offset) / 8;
    const std::uint64_t end = first + e.size / 8;
    if (end > words_.size() * 64) return false;
    for (std::uint64_t bit = first; bit < end; ++bit) {
      if ((words_[bit / 64] & (1ULL << (bit % 64))) == 0) return false;
    }
    return true;
  }

  /// The marked runs as sorted extents (adjacent blocks merge: the allocator only needs the gaps).
  [[nodiscard]] std::vector<block_allocator::extent> runs() const {
    std::vector<block_allocator::extent> out;
    const std::uint64_t bits = words_.size() * 64;
    std::uint64_t bit = 0;
    while (bit < bits) {
      bit = next(bit, true);
      if (bit >= bits) break;
      const std::uint64_t end = next(bit, false);
      out.push_back({mmap::first_block_offset + bit * 8, (end - bit) * 8});
      bit = end;
    }
    return out;
  }

 private:
  /// The first bit at or after `from` that is set (`set`) or clear; the bit count when there is none.
  [[nodiscard]] std::uint64_t next(std::uint64_t from, bool set) const noexcept {
    std::uint64_t i = from / 64;
    std::uint64_t w = (set ? words_[i] : ~words_[i]) & (~0ULL << (from % 64));
    while (w == 0) {
      if (++i == words_.size()) return words_.size() * 64;
      w = set ? words_[i] : ~words_[i];
    }
    return i * 64 + static_cast<std::uint64_t>(__builtin_ctzll(w));
  }

  std::vector<std::uint64_t> words_;
};

/// Walks the tree of `meta` and adopts its blocks. Changes nothing in `region` on error.
result<recovered_tree> adopt_tree(const mmap::store_file& file, mmap::mapped_region& region, int slot,
                                  const mmap::meta_slot& meta, bool verify,
                                  std::span<const named_snapshot_record> named) noexcept {
  try {
    const std::string where = "meta slot " + std::to_string(slot) + ": ";
    if (meta.frontier > file.size_at_open()) {
      return make_error(errc::corruption, where + "its tree ends at byte " + std::to_string(meta.frontier) +
                                              " but the store file has only " + std::to_string(file.size_at_open()) +
                                              " (truncated?)");
    }
    occupancy used(meta.frontier);
    std::uint64_t blocks = 0;
    std::uint64_t block_bytes = 0;
    bool overlap = false;
    std::optional<std::string> problem;
    std::byte* const base = region.base();
    const index::node_ref root = index::node_ref::from_bits(meta.root);
    auto walked = index::walk_blocks(
        base, root, {mmap::first_block_offset, meta.frontier}, 0, [&](index::node_ref r, std::size_t size) {
          if (verify && !problem) problem = block_problem(base, r.offset(), size, r.is_leaf() ? "leaf" : "node");
          const block_allocator::extent e = region.extent_of(r.offset(), size);
          // The walk bounds the block itself; its header and rounding must
          // fit as well before the bitmap is touched.
          if (e.offset < mmap::first_block_offset || e.offset + e.size > meta.frontier || !used.mark(e)) {
            overlap = true;
          }
          ++blocks;
          block_bytes += e.size;
        });
    if (!walked) return make_error(walked.error().code(), where + std::string(walked.error().message()));
    if (problem) return make_error(errc::corruption, where + *problem);
    if (overlap) return make_error(errc::corruption, where + "blocks of the tree overlap or run past its frontier");
    // Blocks only named snapshots reach are in use too; the store retires them once open (named_roots.hpp).
    auto named_only = walk_named_roots(base, {mmap::first_block_offset, meta.frontier}, named,
                                       [&](index::node_ref r, std::size_t size) {
                                         const block_allocator::extent e = region.extent_of(r.offset(), size);
                                         return e.offset >= mmap::first_block_offset && used.marked(e);
                                       });
    if (!named_only) return make_error(named_only.error().code(), where + std::string(named_only.error().message()));
    for (const named_only_block& b : *named_only) {
      if (verify && !problem) problem = block_problem(base, b.ref.offset(), b.size, b.ref.is_leaf() ? "leaf" : "node");
      const block_allocator::extent e = region.extent_of(b.ref.offset(), b.size);
      if (e.offset < mmap::first_block_offset || e.offset + e.size > meta.frontier || !used.mark(e)) overlap = true;
      ++blocks;
      block_bytes += e.size;
    }
    if (problem) return make_error(errc::corruption, where + "a named snapshot's " + *problem);
    if (overlap) {
      return make_error(errc::corruption, where + "blocks of a named snapshot overlap others or run past the frontier");
    }
    recovered_tree out;
    out.named_only = std::move(*named_only);
    out.slot = slot;
    out.meta = meta;
    out.blocks = blocks;
    out.block_bytes = block_bytes;
    if (auto ok = region.adopt(used.runs(), meta.frontier); !ok) {
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

result<recovered_tree> recover_tree(const mmap::store_file& file, mmap::mapped_region& region, bool verify_checksums,
                                    std::span<const named_snapshot_record> named) noexcept {
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
  // Named snapshots keep blocks the live tree does not reach, and the store must retire them again: a walk
  // finds them. (A clean close with named snapshots writes no free table; this guards against one anyway.)
  if (!verify_checksums && !maybe_fallback && named.empty() && (meta.flags & mmap::clean_close) != 0 &&
      meta.free_table != 0 && meta.frontier <= file.size_at_open()) {
    if (auto fast = adopt_free_table(region, first, meta)) {
      fast->elapsed = std::chrono::steady_clock::now() - started;
      return fast;
    }
  }
  auto tree = adopt_tree(file, region, first, meta, verify_checksums || maybe_fallback, named);
  if (!tree) {
    if (!file.slot(other)) {
      return make_error(errc::corruption, std::string(tree.error().message()) + "; and " +
                                              std::string(file.slot(other).error().message()));
    }
    // The older tree may have lost blocks to reuse after the newer commit: verify every one.
    auto older = adopt_tree(file, region, other, *file.slot(other), true, named);
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
