// block_allocator: size-class allocation of 8-byte-aligned blocks inside one contiguous byte range.
//
// Small blocks (up to small_limit) are rounded up to a multiple of 8 bytes and each multiple is its own
// class with an intrusive free list: a freed block's first 8 bytes hold the offset of the next free block of
// its class. There is no per-block header, so a 40-byte leaf costs 40 bytes. A request whose class has no
// free block takes the smallest larger free block and returns the rest to the rest's class (a bitmap of
// non-empty classes finds it in a few word scans): blocks freed in one size -- nodes that grew past it --
// feed allocations of every smaller size instead of waiting for their own. Large blocks are rounded to
// pages and kept in a best-fit free map.
// New space comes from a bump frontier; the owner commits memory below the frontier in chunks of its choosing.
//
// The allocator keeps no state inside blocks other than the free-list links, so a persistent region can
// rebuild it from the set of reachable blocks after a crash (adopt()).
//
// Thread safety: not thread-safe; a region has one writer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace tessel {

class block_allocator {
 public:
  static constexpr std::size_t granule = 8;
  static constexpr std::size_t small_limit = 4096;
  static constexpr std::size_t page_size = 4096;

  /// Grows committed memory so that at least [0, end) is usable; returns the end of what is usable now
  /// (the owner picks its growth step), or 0 when it cannot.
  using commit_fn = std::function<std::uint64_t(std::uint64_t end)>;

  /// One block in use: [offset, offset + size), size as allocate() rounded it.
  struct extent {
    std::uint64_t offset;
    std::uint64_t size;
  };

  /// Manages [first_offset, capacity) of a range whose bytes start at `base`.
  /// REQUIRES: first_offset > 0 and a multiple of granule.
  block_allocator(std::byte* base, std::uint64_t first_offset, std::uint64_t capacity, commit_fn commit);

  /// Rounds a request up to what it will occupy.
  [[nodiscard]] static constexpr std::size_t rounded_size(std::size_t size) noexcept {
    if (size <= small_limit) return size == 0 ? granule : (size + granule - 1) & ~(granule - 1);
    return (size + page_size - 1) & ~(page_size - 1);
  }

  /// Offset of a block of at least `size` bytes, or 0 when the range or the commit callback is exhausted.
  [[nodiscard]] std::uint64_t allocate(std::size_t size) noexcept;
  /// A block of at least `size` bytes taken at the frontier, never from the free blocks: blocks allocated
  /// one after another this way lie in ascending address order (a tree rebuilt in key order then reads
  /// memory forward). Where the frontier has no room, allocate(): a freed block, or 0. Freed like any block.
  [[nodiscard]] std::uint64_t allocate_at_frontier(std::size_t size) noexcept;
  /// Relinks every small class's free list lowest address first, so that allocate() hands a class's freed
  /// blocks out in ascending address order until the list next changes order (a free pushes on its head).
  /// O(free blocks), reading each block's link. Out of memory for the sort, the lists stay as they were.
  void order_free_lists() noexcept;
  /// REQUIRES: `offset` came from allocate(size) with the same size and was not freed since.
  void deallocate(std::uint64_t offset, std::size_t size) noexcept;
  /// Forgets every block: everything below the frontier becomes unused. Committed memory stays committed.
  void reset() noexcept;
  /// Replaces all state: `in_use` (sorted by offset, not overlapping, inside [first_offset, frontier)) are
  /// the live blocks, every gap between them below `frontier` is free. `committed_end` is what the owner
  /// has already made usable. How a persistent region rebuilds its allocator from the reachable blocks.
  /// Returns false (and changes nothing) when the extents are unsorted, overlap or lie outside the range.
  [[nodiscard]] bool adopt(const std::vector<extent>& in_use, std::uint64_t frontier,
                           std::uint64_t committed_end) noexcept;
  /// Replaces all state: `free` (sorted by offset, not overlapping, inside [first_offset, frontier)) are the
  /// free blocks, everything else below `frontier` is live. How a store reopened after a clean close
  /// restores its allocator without walking its tree. Returns false (changing nothing) on bad extents.
  [[nodiscard]] bool adopt_free(const std::vector<extent>& free, std::uint64_t frontier,
                                std::uint64_t committed_end) noexcept;
  /// Every free block, in no particular order (for accounting checks and clean-close records).
  [[nodiscard]] std::vector<extent> free_extents() const;

  [[nodiscard]] std::size_t live_bytes() const noexcept { return live_bytes_; }
  [[nodiscard]] std::size_t free_bytes() const noexcept { return free_bytes_; }
  [[nodiscard]] std::uint64_t frontier() const noexcept { return frontier_; }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

 private:
  static constexpr std::size_t small_classes = small_limit / granule + 1;

  [[nodiscard]] std::uint64_t bump(std::size_t size) noexcept;
  void push_free(std::size_t rounded, std::uint64_t offset) noexcept;
  [[nodiscard]] std::uint64_t pop_free(std::size_t rounded) noexcept;
  /// A free small block of at least `rounded` bytes split down to exactly `rounded`; 0 when there is none.
  [[nodiscard]] std::uint64_t split_larger(std::size_t rounded) noexcept;
  [[nodiscard]] std::uint64_t allocate_large(std::size_t size) noexcept;
  /// A large block at the frontier, page-aligned.
  [[nodiscard]] std::uint64_t bump_large(std::size_t size) noexcept;
  void deallocate_large(std::uint64_t offset, std::size_t size) noexcept;
  /// Puts an arbitrary free gap (a multiple of granule) on the free lists: whole pages as one large block,
  /// the rest in small classes.
  void free_gap(std::uint64_t offset, std::uint64_t size) noexcept;

  std::byte* base_;
  std::uint64_t first_offset_;
  std::uint64_t capacity_;
  commit_fn commit_;
  std::uint64_t frontier_;
  std::uint64_t committed_end_;
  std::array<std::uint64_t, small_classes> free_heads_{};
  std::array<std::uint64_t, (small_classes + 63) / 64> nonempty_{};  // bit c: free_heads_[c] != 0
  std::multimap<std::size_t, std::uint64_t> free_large_;             // size -> offset, best fit by lower_bound
  std::size_t live_bytes_ = 0;
  std::size_t free_bytes_ = 0;
};

}  // namespace tessel
