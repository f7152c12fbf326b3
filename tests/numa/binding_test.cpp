// Binding: requests made from a plan name the shard's node; applying one on a synthetic topology is
// not_supported (it would bind to nodes that do not exist); on this machine a region binds to node 0's
// OS index and reads back so, and a thread pinned to a shard runs only on its core's hardware threads.
#include "numa/binding.hpp"

#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/mman.h>

namespace tessel::numa {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

/// An anonymous mapping of `bytes`, unmapped at the end of the scope.
struct mapping {
  explicit mapping(std::size_t n) : bytes(n) {
    address = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  ~mapping() {
    if (address != MAP_FAILED) ::munmap(address, bytes);
  }
  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;
  std::size_t bytes;
  void* address;
};

TEST(BindingTest, RequestsNameTheShardsNode) {
  auto t = topology::synthetic("pack:2 numa:2 core:4 pu:1");
  ASSERT_TRUE(t.has_value());
  auto plan = plan_placement(*t, 0);
  ASSERT_TRUE(plan.has_value());
  int region = 0;
  for (const shard_placement& s : plan->shards) {
    const memory_binding b = binding_for(s, &region, 1 << 20);
    EXPECT_EQ(b.node_os_index, s.core / 4) << "shard " << s.shard;
    EXPECT_EQ(b.address, &region);
    EXPECT_EQ(b.bytes, std::size_t{1} << 20);
  }
}

TEST(BindingTest, ASyntheticTopologyDoesNotBind) {
  auto t = topology::synthetic("pack:2 numa:2 core:4 pu:1");
  ASSERT_TRUE(t.has_value());
  mapping m(1 << 20);
  ASSERT_NE(m.address, MAP_FAILED);
  auto bound = bind_memory(*t, {m.address, m.bytes, 3});
  ASSERT_FALSE(bound.has_value());
  EXPECT_EQ(bound.error().code(), errc::not_supported);
  auto plan = plan_placement(*t, 0);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(pin_current_thread(*t, plan->shards[0]).error().code(), errc::not_supported);
  // A node the topology does not have is named as such, before anything else.
  auto unknown = bind_memory(*t, {m.address, m.bytes, 9});
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), errc::invalid_argument);
}

TEST(BindingTest, ThisMachineBindsARegionToItsNode) {
  auto t = topology::detect();
  ASSERT_TRUE(t.has_value());
  auto plan = plan_placement(*t, 0);
  ASSERT_TRUE(plan.has_value());
  mapping m(4 << 20);
  ASSERT_NE(m.address, MAP_FAILED);
  const memory_binding b = binding_for(plan->shards.back(), m.address, m.bytes);
  auto before = bound_nodes(*t, m.address, m.bytes);
  if (!before && before.error().code() == errc::not_supported) GTEST_SKIP() << before.error().to_string();
  ASSERT_TRUE(before.has_value()) << before.error().to_string();
  EXPECT_TRUE(before->empty()) << "a fresh mapping has the default policy";
  auto bound = bind_memory(*t, b);
  if (!bound && bound.error().code() == errc::not_supported) GTEST_SKIP() << bound.error().to_string();
  ASSERT_TRUE(bound.has_value()) << bound.error().to_string();
  auto nodes = bound_nodes(*t, m.address, m.bytes);
  ASSERT_TRUE(nodes.has_value()) << nodes.error().to_string();
  EXPECT_THAT(*nodes, ElementsAre(b.node_os_index));
  EXPECT_EQ(bind_memory(*t, {m.address, 0, b.node_os_index}).error().code(), errc::invalid_argument);
}

TEST(BindingTest, APinnedThreadRunsOnItsCoreOnly) {
  auto t = topology::detect();
  ASSERT_TRUE(t.has_value());
  auto plan = plan_placement(*t, 0);
  ASSERT_TRUE(plan.has_value());
  const shard_placement& last = plan->shards.back();
  std::thread worker([&] {  // a thread of its own: the test's thread keeps its CPUs
    auto pinned = pin_current_thread(*t, last);
    if (!pinned && pinned.error().code() == errc::not_supported) return;
    ASSERT_TRUE(pinned.has_value()) << pinned.error().to_string();
    auto cpus = current_thread_pus(*t);
    ASSERT_TRUE(cpus.has_value()) << cpus.error().to_string();
    EXPECT_THAT(*cpus, ElementsAreArray(last.pu_os_indexes));
  });
  worker.join();
}

}  // namespace
}  // namespace tessel::numa
