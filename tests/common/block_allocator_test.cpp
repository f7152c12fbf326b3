// Tests for common/block_allocator.hpp: rounding, per-class reuse, page-rounded best-fit large blocks,
// exhaustion of the range and of the commit callback, accounting and reset. The backing range is a plain
// std::vector<std::byte>; the commit callback is a fake that records calls and can refuse past a limit.
#include "common/block_allocator.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace tessel {
namespace {

constexpr std::uint64_t page = block_allocator::page_size;
constexpr std::uint64_t first = 64;

/// A byte range with an allocator over it and a commit callback that may refuse beyond `commit_limit`.
class arena {
 public:
  explicit arena(std::uint64_t capacity, std::uint64_t commit_limit = ~0ULL)
      : bytes_(capacity),
        commit_limit_(commit_limit),
        alloc_(bytes_.data(), first, capacity, [this](std::uint64_t end) { return commit(end); }) {}
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;

  block_allocator& alloc() noexcept { return alloc_; }
  std::byte* at(std::uint64_t offset) noexcept { return bytes_.data() + offset; }
  std::uint64_t committed() const noexcept { return committed_; }
  std::size_t commit_calls() const noexcept { return commit_calls_; }

  /// Every byte below the frontier is in a live block or on a free list.
  ::testing::AssertionResult accounted() const {
    const std::uint64_t used = alloc_.frontier() - first;
    if (alloc_.live_bytes() + alloc_.free_bytes() == used) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "live " << alloc_.live_bytes() << " + free " << alloc_.free_bytes()
                                         << " != frontier - first " << used;
  }

 private:
  // Grows in 512 KiB steps, as a region would, so the allocator gets more than it asked for.
  std::uint64_t commit(std::uint64_t end) {
    ++commit_calls_;
    const std::uint64_t limit = std::min<std::uint64_t>(commit_limit_, bytes_.size());
    if (end > limit) return 0;
    committed_ = std::min(std::max(end, committed_ + (512u << 10)), limit);
    return committed_;
  }

  std::vector<std::byte> bytes_;
  std::uint64_t commit_limit_;
  std::uint64_t committed_ = 0;
  std::size_t commit_calls_ = 0;
  block_allocator alloc_;
};

TEST(BlockAllocatorTest, RoundsSmallRequestsToGranulesAndLargeOnesToPages) {
  static_assert(block_allocator::rounded_size(0) == 8);
  EXPECT_EQ(block_allocator::rounded_size(0), 8u);
  EXPECT_EQ(block_allocator::rounded_size(1), 8u);
  EXPECT_EQ(block_allocator::rounded_size(8), 8u);
  EXPECT_EQ(block_allocator::rounded_size(9), 16u);
  EXPECT_EQ(block_allocator::rounded_size(56), 56u);
  EXPECT_EQ(block_allocator::rounded_size(57), 64u);
  EXPECT_EQ(block_allocator::rounded_size(4095), 4096u);
  EXPECT_EQ(block_allocator::rounded_size(4096), 4096u);
  EXPECT_EQ(block_allocator::rounded_size(4097), 8192u);
  EXPECT_EQ(block_allocator::rounded_size(8192), 8192u);
  EXPECT_EQ(block_allocator::rounded_size(8193), 12288u);
  EXPECT_EQ(block_allocator::rounded_size(64u << 20), 64u << 20);
}

TEST(BlockAllocatorTest, StartsEmptyAtTheFirstOffset) {
  arena a(1 << 20);
  EXPECT_EQ(a.alloc().live_bytes(), 0u);
  EXPECT_EQ(a.alloc().free_bytes(), 0u);
  EXPECT_EQ(a.alloc().frontier(), first);
  EXPECT_EQ(a.alloc().capacity(), 1u << 20);
}

TEST(BlockAllocatorTest, BumpsContiguouslyFromTheFirstOffset) {
  arena a(1 << 20);
  EXPECT_EQ(a.alloc().allocate(1), first);
  EXPECT_EQ(a.alloc().allocate(24), first + 8);
  EXPECT_EQ(a.alloc().allocate(100), first + 32);
  EXPECT_EQ(a.alloc().allocate(0), first + 32 + 104);
  EXPECT_EQ(a.alloc().frontier(), first + 32 + 104 + 8);
  EXPECT_EQ(a.alloc().live_bytes(), 8u + 24u + 104u + 8u);
  EXPECT_EQ(a.alloc().free_bytes(), 0u);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, FreedBlockServesItsOwnClassFirst) {
  arena a(1 << 20);
  const std::uint64_t x = a.alloc().allocate(24);
  const std::uint64_t y = a.alloc().allocate(24);
  ASSERT_NE(x, 0u);
  ASSERT_NE(y, 0u);
  a.alloc().deallocate(x, 24);
  EXPECT_EQ(a.alloc().free_bytes(), 24u);
  EXPECT_EQ(a.alloc().live_bytes(), 24u);
  // Any request that rounds to the same class takes it.
  EXPECT_EQ(a.alloc().allocate(17), x);
  EXPECT_EQ(a.alloc().free_bytes(), 0u);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, LargerRequestNeverTakesASmallerFreeBlock) {
  arena a(1 << 20);
  const std::uint64_t x = a.alloc().allocate(24);
  const std::uint64_t y = a.alloc().allocate(24);
  a.alloc().deallocate(x, 24);
  const std::uint64_t bigger = a.alloc().allocate(32);
  EXPECT_GE(bigger, y + 24) << "a 32-byte block does not fit in the free 24-byte one";
  EXPECT_EQ(a.alloc().free_bytes(), 24u);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, SmallerRequestSplitsTheSmallestLargerFreeBlock) {
  arena a(1 << 20);
  const std::uint64_t b64 = a.alloc().allocate(64);
  ASSERT_NE(a.alloc().allocate(8), 0u);  // fences keep the free blocks apart
  const std::uint64_t b128 = a.alloc().allocate(128);
  ASSERT_NE(a.alloc().allocate(8), 0u);
  const std::uint64_t frontier = a.alloc().frontier();
  a.alloc().deallocate(b128, 128);
  a.alloc().deallocate(b64, 64);
  EXPECT_EQ(a.alloc().free_bytes(), 192u);

  // 40 bytes: no free 40-byte block; the 64-byte one is the smallest that fits, its last 24 bytes stay free.
  EXPECT_EQ(a.alloc().allocate(40), b64);
  EXPECT_EQ(a.alloc().free_bytes(), 128u + 24u);
  // The rest now sits in its own class and serves it exactly.
  EXPECT_EQ(a.alloc().allocate(24), b64 + 40);
  // 16 bytes: the smallest larger free block is the 128-byte one.
  EXPECT_EQ(a.alloc().allocate(16), b128);
  EXPECT_EQ(a.alloc().free_bytes(), 112u);
  EXPECT_EQ(a.alloc().allocate(112), b128 + 16);
  EXPECT_EQ(a.alloc().free_bytes(), 0u);
  EXPECT_EQ(a.alloc().frontier(), frontier) << "every request was served from freed blocks";
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, FreeListIsLastInFirstOut) {
  arena a(1 << 20);
  const std::uint64_t x = a.alloc().allocate(40);
  const std::uint64_t y = a.alloc().allocate(40);
  const std::uint64_t z = a.alloc().allocate(40);
  a.alloc().deallocate(x, 40);
  a.alloc().deallocate(z, 40);
  a.alloc().deallocate(y, 40);
  EXPECT_EQ(a.alloc().free_bytes(), 120u);
  EXPECT_EQ(a.alloc().allocate(40), y);
  EXPECT_EQ(a.alloc().allocate(40), z);
  EXPECT_EQ(a.alloc().allocate(40), x);
  const std::uint64_t fresh = a.alloc().allocate(40);
  EXPECT_EQ(fresh, z + 40);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, LargestSmallClassIsAFullPage) {
  arena a(1 << 20);
  const std::uint64_t x = a.alloc().allocate(4096);
  EXPECT_EQ(x, first) << "a 4096-byte block is small: no page alignment";
  a.alloc().deallocate(x, 4096);
  EXPECT_EQ(a.alloc().allocate(4089), x);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, LargeBlocksArePageAlignedAndPageRounded) {
  arena a(1 << 20);
  ASSERT_EQ(a.alloc().allocate(8), first);
  const std::uint64_t big = a.alloc().allocate(5000);
  ASSERT_NE(big, 0u);
  EXPECT_EQ(big % page, 0u);
  EXPECT_EQ(big, page);
  EXPECT_EQ(a.alloc().frontier(), big + 2 * page);
  EXPECT_EQ(a.alloc().live_bytes(), 8u + 2 * page);
  EXPECT_TRUE(a.accounted());

  const std::uint64_t big2 = a.alloc().allocate(4097);
  EXPECT_EQ(big2, big + 2 * page) << "an aligned frontier leaves no gap";
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, GapSkippedForAlignmentIsFreeForItsSmallClass) {
  arena a(1 << 20);
  ASSERT_EQ(a.alloc().allocate(8), first);
  ASSERT_EQ(a.alloc().allocate(2 * page), page);
  const std::uint64_t gap = page - first - 8;
  EXPECT_EQ(a.alloc().free_bytes(), gap);
  EXPECT_TRUE(a.accounted());
  EXPECT_EQ(a.alloc().allocate(gap), first + 8);
  EXPECT_EQ(a.alloc().free_bytes(), 0u);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, FreedLargeBlockIsReusedForTheSameSize) {
  arena a(1 << 20);
  const std::uint64_t x = a.alloc().allocate(3 * page);
  const std::uint64_t after = a.alloc().frontier();
  a.alloc().deallocate(x, 3 * page);
  EXPECT_GE(a.alloc().free_bytes(), 3 * page);
  EXPECT_EQ(a.alloc().allocate(3 * page - 100), x);
  EXPECT_EQ(a.alloc().frontier(), after) << "reuse must not bump";
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, LargeReuseIsBestFitAndSplitsTheRest) {
  arena a(1 << 20);
  const std::uint64_t five = a.alloc().allocate(5 * page);
  const std::uint64_t fence1 = a.alloc().allocate(2 * page);  // keeps the two free blocks apart
  const std::uint64_t three = a.alloc().allocate(3 * page);
  const std::uint64_t fence2 = a.alloc().allocate(2 * page);
  ASSERT_NE(fence1, 0u);
  ASSERT_NE(fence2, 0u);
  const std::uint64_t frontier = a.alloc().frontier();
  const std::size_t free_before = a.alloc().free_bytes();
  a.alloc().deallocate(five, 5 * page);
  a.alloc().deallocate(three, 3 * page);
  EXPECT_EQ(a.alloc().free_bytes(), free_before + 8 * page);

  // Two pages: the 3-page block fits best; its last page stays free.
  EXPECT_EQ(a.alloc().allocate(2 * page), three);
  EXPECT_EQ(a.alloc().free_bytes(), free_before + 6 * page);
  // Two more pages: the best fit is now the 5-page block (the 1-page rest is too small).
  EXPECT_EQ(a.alloc().allocate(2 * page), five);
  // Its 3-page rest serves an exact 3-page request, right after the part already taken.
  EXPECT_EQ(a.alloc().allocate(3 * page), five + 2 * page);
  EXPECT_EQ(a.alloc().free_bytes(), free_before + page);
  // Nothing free is large enough now: the frontier moves.
  EXPECT_EQ(a.alloc().allocate(2 * page), frontier);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, FrontierAllocationSkipsFreedBlocksUntilTheRangeIsFull) {
  arena a(first + 4 * page);
  const std::uint64_t x = a.alloc().allocate(40);
  const std::uint64_t y = a.alloc().allocate(96);
  a.alloc().deallocate(x, 40);
  a.alloc().deallocate(y, 96);
  // Blocks taken one after another ascend, past the freed 40- and 96-byte blocks.
  std::uint64_t previous = y;
  for (int i = 0; i < 20; ++i) {
    const std::uint64_t at = a.alloc().allocate_at_frontier(40);
    ASSERT_GT(at, previous) << "block " << i;
    previous = at;
  }
  const std::uint64_t large = a.alloc().allocate_at_frontier(page + 1);
  EXPECT_EQ(large % page, 0u) << "large blocks stay page-aligned";
  EXPECT_GT(large, previous);
  EXPECT_EQ(a.alloc().free_bytes(), 136u + (large - previous - 40)) << "the alignment gap is free";
  EXPECT_TRUE(a.accounted());
  // With no room left at the frontier, the freed blocks serve: placement never fails where allocate would not.
  while (a.alloc().frontier() + 40 <= first + 4 * page) ASSERT_NE(a.alloc().allocate_at_frontier(40), 0u);
  EXPECT_EQ(a.alloc().allocate_at_frontier(40), x);
  EXPECT_NE(a.alloc().allocate_at_frontier(40), 0u) << "split from the freed 96-byte block";
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, ExhaustedRangeReturnsZeroAndChangesNothing) {
  arena a(first + 800);
  for (int i = 0; i < 100; ++i) ASSERT_NE(a.alloc().allocate(8), 0u) << "block " << i;
  EXPECT_EQ(a.alloc().frontier(), first + 800);
  EXPECT_EQ(a.alloc().allocate(8), 0u);
  EXPECT_EQ(a.alloc().allocate(2 * page), 0u);
  EXPECT_EQ(a.alloc().live_bytes(), 800u);
  EXPECT_EQ(a.alloc().free_bytes(), 0u);
  EXPECT_TRUE(a.accounted());

  // A freed block is still handed out after a failure.
  a.alloc().deallocate(first + 80, 8);
  EXPECT_EQ(a.alloc().allocate(8), first + 80);
  EXPECT_EQ(a.alloc().allocate(8), 0u);
}

TEST(BlockAllocatorTest, PartlyFittingRequestFailsWithoutMovingTheFrontier) {
  arena a(first + 100);
  ASSERT_EQ(a.alloc().allocate(64), first);
  EXPECT_EQ(a.alloc().allocate(40), 0u);
  EXPECT_EQ(a.alloc().frontier(), first + 64);
  EXPECT_EQ(a.alloc().allocate(32), first + 64);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, LargeRequestBeyondTheRangeReturnsZero) {
  arena a(1 << 20);
  EXPECT_EQ(a.alloc().allocate(2u << 20), 0u);
  EXPECT_EQ(a.alloc().live_bytes(), 0u);
  EXPECT_TRUE(a.accounted());
  EXPECT_NE(a.alloc().allocate(8), 0u);
}

TEST(BlockAllocatorTest, CommitRefusalEndsAllocationExactlyAtTheCommitLimit) {
  constexpr std::uint64_t limit = 64 * 1024;
  arena a(1 << 20, limit);
  std::size_t blocks = 0;
  while (a.alloc().allocate(8) != 0) ++blocks;
  EXPECT_EQ(blocks, (limit - first) / 8);
  EXPECT_EQ(a.alloc().frontier(), limit);
  EXPECT_EQ(a.alloc().live_bytes(), limit - first);
  EXPECT_EQ(a.alloc().allocate(2 * page), 0u);
  EXPECT_EQ(a.alloc().live_bytes(), limit - first);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, CommitRefusedFromTheStartReturnsZero) {
  arena a(1 << 20, 0);
  EXPECT_EQ(a.alloc().allocate(8), 0u);
  EXPECT_EQ(a.alloc().allocate(3 * page), 0u);
  EXPECT_EQ(a.alloc().live_bytes(), 0u);
  EXPECT_GT(a.commit_calls(), 0u);
  EXPECT_TRUE(a.accounted());
}

TEST(BlockAllocatorTest, EveryBlockLiesInCommittedMemory) {
  arena a(4 << 20);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const std::size_t size = (i % 10 == 0) ? 4097 + rng() % (3 * page) : rng() % 300;
    const std::uint64_t offset = a.alloc().allocate(size);
    if (offset == 0) break;
    ASSERT_LE(offset + block_allocator::rounded_size(size), a.committed()) << "block " << i;
  }
  // Commit happens in steps, not once per block.
  EXPECT_LT(a.commit_calls(), 10u);
}

TEST(BlockAllocatorTest, ResetForgetsEveryBlockButKeepsCommittedMemory) {
  arena a(1 << 20);
  const std::uint64_t x = a.alloc().allocate(24);
  ASSERT_NE(a.alloc().allocate(3 * page), 0u);
  const std::uint64_t y = a.alloc().allocate(48);
  a.alloc().deallocate(y, 48);
  a.alloc().deallocate(x, 24);
  const std::size_t calls = a.commit_calls();

  a.alloc().reset();
  EXPECT_EQ(a.alloc().live_bytes(), 0u);
  EXPECT_EQ(a.alloc().free_bytes(), 0u);
  EXPECT_EQ(a.alloc().frontier(), first);
  EXPECT_TRUE(a.accounted());

  // Free lists are forgotten: a class that had a free block bumps from the first offset again.
  EXPECT_EQ(a.alloc().allocate(48), first);
  EXPECT_EQ(a.alloc().allocate(24), first + 48);
  EXPECT_EQ(a.alloc().allocate(3 * page), page);
  EXPECT_EQ(a.commit_calls(), calls) << "memory below the old frontier is still committed";
  EXPECT_TRUE(a.accounted());
}

// Random allocate/free over small and large sizes, each live block filled with a pattern of its own:
// no two live blocks overlap, free-list links never land in a live block, and accounting stays exact.
TEST(BlockAllocatorTest, RandomChurnKeepsBlocksDisjointAndAccountingExact) {
  arena a(32 << 20);
  std::mt19937_64 rng(20240611);
  struct block {
    std::size_t size;
    std::uint8_t fill;
  };
  std::map<std::uint64_t, block> live;  // offset -> block
  std::size_t live_bytes = 0;

  const auto intact = [&](std::uint64_t offset, const block& b) {
    const std::byte* p = a.at(offset);
    for (std::size_t i = 0; i < b.size; ++i) {
      if (p[i] != std::byte{b.fill}) return false;
    }
    return true;
  };

  for (int step = 0; step < 20000; ++step) {
    const bool do_free = !live.empty() && rng() % 100 < 45;
    if (do_free) {
      auto it = live.lower_bound(rng() % a.alloc().frontier());
      if (it == live.end()) it = live.begin();
      ASSERT_TRUE(intact(it->first, it->second)) << "block at " << it->first << " was overwritten";
      a.alloc().deallocate(it->first, it->second.size);
      live_bytes -= block_allocator::rounded_size(it->second.size);
      live.erase(it);
    } else {
      const std::uint64_t r = rng() % 100;
      const std::size_t size = r < 3 ? 4097 + rng() % (6 * page) : (r < 6 ? 4000 + rng() % 97 : rng() % 400);
      const std::uint64_t offset = a.alloc().allocate(size);
      ASSERT_NE(offset, 0u);
      const std::size_t rounded = block_allocator::rounded_size(size);
      ASSERT_EQ(offset % block_allocator::granule, 0u);
      ASSERT_GE(offset, first);
      ASSERT_LE(offset + rounded, a.alloc().frontier());
      if (rounded > block_allocator::small_limit) {
        ASSERT_EQ(offset % page, 0u);
      }
      auto next = live.lower_bound(offset);
      if (next != live.end()) {
        ASSERT_LE(offset + rounded, next->first) << "overlaps the next live block";
      }
      if (next != live.begin()) {
        const auto prev = std::prev(next);
        ASSERT_LE(prev->first + block_allocator::rounded_size(prev->second.size), offset)
            << "overlaps the previous live block";
      }
      const block b{size, static_cast<std::uint8_t>(rng())};
      std::memset(a.at(offset), b.fill, size);
      live.emplace(offset, b);
      live_bytes += rounded;
    }
    ASSERT_EQ(a.alloc().live_bytes(), live_bytes) << "step " << step;
    ASSERT_TRUE(a.accounted()) << "step " << step;
  }
  for (const auto& [offset, b] : live) EXPECT_TRUE(intact(offset, b)) << "block at " << offset;
}

TEST(BlockAllocatorTest, AdoptMakesTheGapsFreeAndKeepsTheExtentsLive) {
  arena a(1 << 20);
  ASSERT_NE(a.alloc().allocate(8), 0u);  // commits the first step
  const std::uint64_t frontier = first + 3 * page + 96;
  // Live: 40 bytes at first, 5000 bytes (rounded to 2 pages) later, 16 bytes just below the frontier.
  const std::vector<block_allocator::extent> live = {{first, 40}, {first + 200, 2 * page}, {frontier - 16, 16}};
  ASSERT_TRUE(a.alloc().adopt(live, frontier, a.committed()));
  EXPECT_EQ(a.alloc().live_bytes(), 40u + 2 * page + 16u);
  EXPECT_EQ(a.alloc().frontier(), frontier);
  EXPECT_TRUE(a.accounted());
  // Every free extent lies in a gap, and together they cover the gaps exactly.
  std::uint64_t free_total = 0;
  for (const auto& f : a.alloc().free_extents()) {
    free_total += f.size;
    for (const auto& l : live) EXPECT_TRUE(f.offset + f.size <= l.offset || l.offset + l.size <= f.offset);
  }
  EXPECT_EQ(free_total, a.alloc().free_bytes());
  // The 160-byte gap after the first block is reused by a request of that size.
  EXPECT_EQ(a.alloc().allocate(160), first + 40);
}

TEST(BlockAllocatorTest, AdoptRefusesOverlappingOrOutOfRangeExtents) {
  arena a(1 << 20);
  const std::uint64_t x = a.alloc().allocate(64);
  using extent = block_allocator::extent;
  EXPECT_FALSE(a.alloc().adopt({{first, 64}, {first + 32, 64}}, first + 4096, 0)) << "overlap";
  EXPECT_FALSE(a.alloc().adopt({{first + 64, 64}, {first, 64}}, first + 4096, 0)) << "unsorted";
  EXPECT_FALSE(a.alloc().adopt({extent{first, 8192}}, first + 4096, 0)) << "past the frontier";
  EXPECT_FALSE(a.alloc().adopt({}, (2u << 20), 0)) << "frontier past capacity";
  // Nothing changed: the block allocated before is still live.
  EXPECT_EQ(a.alloc().live_bytes(), 64u);
  EXPECT_NE(a.alloc().allocate(64), x);
}

TEST(BlockAllocatorTest, AdoptFreeRefusesExtentsOutsideTheFrontier) {
  arena a(1 << 20);
  const std::uint64_t x = a.alloc().allocate(64);
  using extent = block_allocator::extent;
  const std::uint64_t frontier = first + 4096;
  // An extent that starts past the frontier: frontier - offset wraps around, and no size may pass for it.
  EXPECT_FALSE(a.alloc().adopt_free({extent{frontier + 8, 8}}, frontier, 0)) << "starts past the frontier";
  EXPECT_FALSE(a.alloc().adopt_free({extent{frontier + 4096, 1u << 30}}, frontier, 0)) << "far past";
  EXPECT_FALSE(a.alloc().adopt_free({extent{frontier - 8, 16}}, frontier, 0)) << "runs past the frontier";
  EXPECT_FALSE(a.alloc().adopt_free({{first, 64}, {first + 32, 64}}, frontier, 0)) << "overlap";
  // Nothing changed: the block allocated before is still live.
  EXPECT_EQ(a.alloc().live_bytes(), 64u);
  EXPECT_NE(a.alloc().allocate(64), x);
  // The same extents inside the frontier are taken.
  EXPECT_TRUE(a.alloc().adopt_free({extent{frontier - 64, 64}}, frontier, a.committed()));
  EXPECT_EQ(a.alloc().live_bytes(), frontier - first - 64);
}

}  // namespace
}  // namespace tessel
