// The placement plan on synthetic machines: one shard per core by default, shards spread over nodes in
// proportion to their cores in contiguous runs, wrapping on a node with more shards than cores, and the
// asymmetric machine shares out by cores; every shard's memory node is its core's node.
#include "numa/placement.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tessel::numa {
namespace {

using ::testing::ElementsAre;

topology make(const char* description, const char* allowed = "") {
  auto t = topology::synthetic(description, allowed);
  EXPECT_TRUE(t.has_value()) << t.error().to_string();
  return std::move(*t);
}

/// Every shard runs on a core of the node its memory is bound to, and is numbered in order.
void expect_consistent(const topology& t, const placement_plan& plan) {
  for (std::size_t i = 0; i < plan.shards.size(); ++i) {
    const shard_placement& s = plan.shards[i];
    EXPECT_EQ(s.shard, i);
    EXPECT_EQ(t.cores()[s.core].node, s.node) << "shard " << i;
    EXPECT_EQ(t.nodes()[s.node].os_index, s.node_os_index) << "shard " << i;
    EXPECT_EQ(s.pu_os_indexes, t.cores()[s.core].pu_os_indexes) << "shard " << i;
  }
}

TEST(PlacementTest, OneShardPerCoreByDefault) {
  const topology t = make("pack:2 numa:2 core:4 pu:2");
  auto plan = plan_placement(t, 0);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->shards.size(), 16U);
  expect_consistent(t, *plan);
  for (const shard_placement& s : plan->shards) EXPECT_EQ(s.core, s.shard);
  EXPECT_THAT(plan->shards[13].pu_os_indexes, ElementsAre(26, 27));
  EXPECT_THAT(plan->shards_per_node(4), ElementsAre(4, 4, 4, 4));
}

TEST(PlacementTest, FewerShardsThanCoresSpreadOverEveryNode) {
  const topology t = make("pack:2 numa:2 core:4 pu:1");
  auto plan = plan_placement(t, 6);
  ASSERT_TRUE(plan.has_value());
  expect_consistent(t, *plan);
  EXPECT_THAT(plan->shards_per_node(4), ElementsAre(2, 2, 1, 1));
  // Contiguous runs: shards 0-1 on node 0's first cores, 2-3 on node 1's, then one each.
  EXPECT_EQ(plan->shards[0].core, 0U);
  EXPECT_EQ(plan->shards[1].core, 1U);
  EXPECT_EQ(plan->shards[2].core, 4U);
  EXPECT_EQ(plan->shards[4].core, 8U);
  EXPECT_EQ(plan->shards[5].core, 12U);
}

TEST(PlacementTest, MoreShardsThanCoresWrapWithinTheirNode) {
  const topology t = make("pack:1 numa:2 core:2 pu:1");
  auto plan = plan_placement(t, 8);
  ASSERT_TRUE(plan.has_value());
  expect_consistent(t, *plan);
  EXPECT_THAT(plan->shards_per_node(2), ElementsAre(4, 4));
  std::vector<unsigned> cores;
  for (const shard_placement& s : plan->shards) cores.push_back(s.core);
  EXPECT_THAT(cores, ElementsAre(0, 1, 0, 1, 2, 3, 2, 3));
}

TEST(PlacementTest, AnAsymmetricMachineSharesByCores) {
  // Nodes of 4, 2 and 1 cores (topology_test.cpp).
  const topology t = make("pack:2 numa:2 core:4 pu:1", "0-5,8");
  auto seven = plan_placement(t, 0);
  ASSERT_TRUE(seven.has_value());
  expect_consistent(t, *seven);
  EXPECT_THAT(seven->shards_per_node(3), ElementsAre(4, 2, 1));
  EXPECT_THAT(seven->shards[6].pu_os_indexes, ElementsAre(8));
  EXPECT_EQ(seven->shards[6].node_os_index, 2U);
  // 3 shards of 7 cores: shares 12/7, 6/7, 3/7 -> floors 1, 0, 0, then the largest remainders.
  auto three = plan_placement(t, 3);
  ASSERT_TRUE(three.has_value());
  expect_consistent(t, *three);
  EXPECT_THAT(three->shards_per_node(3), ElementsAre(2, 1, 0));
}

}  // namespace
}  // namespace tessel::numa
