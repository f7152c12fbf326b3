// walk_blocks (index/tree_walk.hpp), the checked walk that recovery and `tessel check` run over trees read
// from disk, on a tree damaged the way a crafted file can be: inner nodes whose two children are one block.
#include "index/tree_walk.hpp"

#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "index/node_ops.hpp"
#include "tests/index/art_test_support.hpp"

namespace tessel::index {
namespace {

using test::kv;
using test::tree_fixture;

// Keys "y", "xy", "xxy", ...: a chain of n4 nodes, each with a leaf ('y') and the next node ('x'). With
// every leaf reference pointed at the next node instead, each node is reached from two parents and a walk
// that trusts references repeats the chain below it: 2^59 visits. The walk must instead stop, as
// corruption, after at most a visit per smallest block the range could hold.
TEST(TreeWalkTest, BlocksReachedFromTwoParentsEndTheWalkInLinearTime) {
  tree_fixture f;
  constexpr int levels = 60;
  for (int i = 0; i < levels; ++i)
    ASSERT_TRUE(f.tree.upsert(kv(std::string(static_cast<std::size_t>(i), 'x') + "y"), kv("v")));
  std::byte* const base = f.region->base();
  const block_bounds bounds{0, f.region->allocator().frontier()};
  std::size_t healthy = 0;
  ASSERT_TRUE(walk_blocks(base, f.tree.root(), bounds, 0, [&](node_ref, std::size_t) { ++healthy; }));
  EXPECT_EQ(healthy, 2U * levels - 1) << "a chain of n4 nodes, each with one leaf, and the last leaf";

  std::vector<std::pair<node_ref*, node_ref>> changed;
  for (node_ref r = f.tree.root(); r.is_inner();) {
    ASSERT_EQ(r.kind(), node_kind::n4);
    node4* const n = node_cast<node4>(base, r);
    node_ref* leaf = nullptr;
    node_ref next;
    for (unsigned i = 0; i < n->header.count(); ++i) {
      if (n->keys[i] == 'y') {
        leaf = &n->children[i];
      } else {
        next = n->children[i];
      }
    }
    ASSERT_NE(leaf, nullptr);
    if (!next.is_inner()) break;
    changed.emplace_back(leaf, *leaf);
    *leaf = next;
    r = next;
  }
  ASSERT_GE(changed.size(), static_cast<std::size_t>(levels - 2));

  std::uint64_t met = 0;
  const auto walked = walk_blocks(base, f.tree.root(), bounds, 0, [&](node_ref, std::size_t) { ++met; });
  ASSERT_FALSE(walked.has_value()) << "a walk of 2^59 visits ended";
  EXPECT_EQ(walked.error().code(), errc::corruption);
  EXPECT_THAT(std::string(walked.error().message()), ::testing::HasSubstr("more blocks than its space can hold"));
  EXPECT_LE(met, bounds.end / min_block_bytes + 1);

  for (const auto& [slot, was] : changed) *slot = was;  // whole again, for the tree's destructor
}

}  // namespace
}  // namespace tessel::index
