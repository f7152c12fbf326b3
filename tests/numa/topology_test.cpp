// The topology read from hwloc: synthetic machines (2 packages x 2 NUMA nodes x 4 cores, hyperthreaded, and
// an asymmetric one made by restricting the CPUs) come out with the right packages, nodes, cores, hardware
// threads and caches; bad descriptions are invalid_argument; this machine is detected.
#include "numa/topology.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tessel::numa {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TopologyTest, TwoPackagesOfTwoNodesOfFourCores) {
  auto t = topology::synthetic("pack:2 numa:2 core:4 pu:1");
  ASSERT_TRUE(t.has_value()) << t.error().to_string();
  EXPECT_FALSE(t->is_this_system());
  ASSERT_EQ(t->packages().size(), 2U);
  ASSERT_EQ(t->nodes().size(), 4U);
  ASSERT_EQ(t->cores().size(), 16U);
  EXPECT_THAT(t->packages()[1].nodes, ElementsAre(2, 3));
  EXPECT_THAT(t->packages()[1].cores, ElementsAre(8, 9, 10, 11, 12, 13, 14, 15));
  EXPECT_THAT(t->nodes()[2].cores, ElementsAre(8, 9, 10, 11));
  EXPECT_EQ(t->nodes()[2].package, 1U);
  EXPECT_EQ(t->nodes()[2].os_index, 2U);
  for (const core& c : t->cores()) {
    EXPECT_EQ(c.node, c.index / 4) << "core " << c.index;
    EXPECT_EQ(c.package, c.index / 8) << "core " << c.index;
    EXPECT_THAT(c.pu_os_indexes, ElementsAre(c.index));
  }
  EXPECT_EQ(t->describe(), "2 packages, 4 NUMA nodes, 16 cores, 16 hardware threads");
}

TEST(TopologyTest, HardwareThreadsAndCachesAreRead) {
  auto t = topology::synthetic("pack:1 [numa(memory=4GB)] l3:1(size=32MB) l2:4(size=1MB) l1d:1(size=48KB) core:1 pu:2");
  ASSERT_TRUE(t.has_value()) << t.error().to_string();
  ASSERT_EQ(t->cores().size(), 4U);
  EXPECT_THAT(t->cores()[3].pu_os_indexes, ElementsAre(6, 7));
  ASSERT_EQ(t->nodes().size(), 1U);
  EXPECT_EQ(t->nodes()[0].memory_bytes, 4'000'000'000ULL);
  ASSERT_EQ(t->caches().size(), 3U);
  EXPECT_EQ(t->caches()[0].level, 1U);
  EXPECT_EQ(t->caches()[0].bytes, 48'000U);
  EXPECT_EQ(t->caches()[1].level, 2U);
  EXPECT_EQ(t->caches()[2].level, 3U);
  EXPECT_EQ(t->caches()[2].shared_by_cores, 4U);
}

// hwloc's synthetic trees are symmetric; taking CPUs away gives an asymmetric machine: node 0 keeps four
// cores, node 1 two, node 2 one, node 3 none (and is removed).
TEST(TopologyTest, AnAsymmetricMachineFromARestriction) {
  auto t = topology::synthetic("pack:2 numa:2 core:4 pu:1", "0-5,8");
  ASSERT_TRUE(t.has_value()) << t.error().to_string();
  ASSERT_EQ(t->nodes().size(), 3U);
  EXPECT_THAT(t->nodes()[0].cores, ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(t->nodes()[1].cores, ElementsAre(4, 5));
  EXPECT_THAT(t->nodes()[2].cores, ElementsAre(6));
  EXPECT_EQ(t->cores()[6].os_index, 8U);
  EXPECT_EQ(t->cores()[6].package, 1U);
}

TEST(TopologyTest, BadDescriptionsAreInvalidArgument) {
  auto bad = topology::synthetic("pack:two core:x");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(bad.error().message()), HasSubstr("pack:two"));
  auto bad_list = topology::synthetic("pack:2 core:2 pu:1", "not-a-list");
  ASSERT_FALSE(bad_list.has_value());
  EXPECT_EQ(bad_list.error().code(), errc::invalid_argument);
  auto nothing_left = topology::synthetic("pack:2 core:2 pu:1", "100-200");
  ASSERT_FALSE(nothing_left.has_value());
  EXPECT_EQ(nothing_left.error().code(), errc::invalid_argument);
}

TEST(TopologyTest, ThisMachineIsDetected) {
  auto t = topology::detect();
  ASSERT_TRUE(t.has_value()) << t.error().to_string();
  EXPECT_TRUE(t->is_this_system());
  EXPECT_GE(t->cores().size(), 1U);
  EXPECT_GE(t->nodes().size(), 1U);
  std::size_t cores_in_nodes = 0;
  for (const numa_node& n : t->nodes()) cores_in_nodes += n.cores.size();
  EXPECT_EQ(cores_in_nodes, t->cores().size()) << "every core is in exactly one node";
}

}  // namespace
}  // namespace tessel::numa
