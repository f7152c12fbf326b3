// Tests for mmap/mapped_region.hpp: blocks are usable memory at stable addresses, offset 0 is never handed
// out, usage follows allocations, an exhausted reservation fails with no_space and a message, and reset
// forgets every block.
#include "mmap/mapped_region.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace tessel::mmap {
namespace {

std::unique_ptr<mapped_region> make(std::size_t reserve) {
  auto r = mapped_region::create_anonymous(reserve, false);
  if (!r) {
    ADD_FAILURE() << "mapped_region::create: " << r.error().to_string();
    return nullptr;
  }
  return std::move(*r);
}

TEST(AnonymousRegionTest, SatisfiesTheRegionConcept) {
  static_assert(index::region<mapped_region>);
  auto r = make(64u << 20);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r->base(), nullptr);
  const index::region_usage u = r->usage();
  EXPECT_EQ(u.live_bytes, 0u);
  EXPECT_EQ(u.free_bytes, 0u);
}

TEST(AnonymousRegionTest, BlocksAreWritableAlignedAndNeverAtOffsetZero) {
  auto r = make(64u << 20);
  ASSERT_NE(r, nullptr);
  std::vector<std::pair<std::uint64_t, std::size_t>> blocks;
  int fill = 1;
  for (const std::size_t size : {1u, 8u, 56u, 664u, 4096u, 5000u, 100000u}) {
    const std::uint64_t off = r->allocate(size);
    ASSERT_NE(off, 0u) << size;
    EXPECT_EQ(off % 8, 0u);
    std::memset(r->base() + off, fill++, size);
    blocks.emplace_back(off, size);
  }
  // Each block still holds its own fill: none overlaps another.
  fill = 1;
  for (const auto& [off, size] : blocks) {
    const auto* p = reinterpret_cast<const unsigned char*>(r->base() + off);
    EXPECT_EQ(p[0], fill) << "block of " << size;
    EXPECT_EQ(p[size - 1], fill) << "block of " << size;
    ++fill;
  }
  EXPECT_GT(r->usage().live_bytes, 100000u);
  EXPECT_GE(r->usage().committed_bytes, r->usage().live_bytes);
}

TEST(AnonymousRegionTest, UsageFollowsAllocateAndDeallocate) {
  auto r = make(64u << 20);
  ASSERT_NE(r, nullptr);
  const std::uint64_t a = r->allocate(40);
  const std::uint64_t b = r->allocate(100);
  EXPECT_EQ(r->usage().live_bytes, 40u + 104u);
  r->deallocate(a, 40);
  EXPECT_EQ(r->usage().live_bytes, 104u);
  EXPECT_EQ(r->usage().free_bytes, 40u);
  r->deallocate(b, 100);
  EXPECT_EQ(r->usage().live_bytes, 0u);
  EXPECT_EQ(r->usage().free_bytes, 144u);
}

TEST(AnonymousRegionTest, ExhaustedReservationIsNoSpaceWithAMessage) {
  auto r = make(2u << 20);  // one huge page
  ASSERT_NE(r, nullptr);
  std::size_t blocks = 0;
  while (r->allocate(64 * 1024) != 0) ++blocks;
  EXPECT_GT(blocks, 10u);
  EXPECT_LE(blocks, 32u);
  const error e = r->last_error();
  EXPECT_EQ(e.code(), errc::no_space);
  EXPECT_NE(std::string(e.message()).find("reserve_bytes"), std::string::npos) << e.message();
  // Small blocks still fit in what is left.
  EXPECT_NE(r->allocate(8), 0u);
}

TEST(AnonymousRegionTest, ResetForgetsEveryBlock) {
  auto r = make(64u << 20);
  ASSERT_NE(r, nullptr);
  const std::uint64_t first = r->allocate(48);
  for (int i = 0; i < 100; ++i) ASSERT_NE(r->allocate(48), 0u);
  r->reset();
  EXPECT_EQ(r->usage().live_bytes, 0u);
  EXPECT_EQ(r->usage().free_bytes, 0u);
  EXPECT_EQ(r->allocate(48), first) << "allocation starts over at the first block";
}

TEST(AnonymousRegionTest, ManyRegionsCoexist) {
  std::vector<std::unique_ptr<mapped_region>> regions;
  std::vector<std::uint64_t> offsets;
  for (int i = 0; i < 8; ++i) {
    regions.push_back(make(0));  // the default reservation: address space only
    ASSERT_NE(regions.back(), nullptr);
    offsets.push_back(regions.back()->allocate(16));
    ASSERT_NE(offsets.back(), 0u);
    std::memcpy(regions.back()->base() + offsets.back(), &i, sizeof i);
  }
  for (std::size_t i = 0; i < regions.size(); ++i) {
    int got = -1;
    std::memcpy(&got, regions[i]->base() + offsets[i], sizeof got);
    EXPECT_EQ(got, static_cast<int>(i));
  }
}

}  // namespace
}  // namespace tessel::mmap
