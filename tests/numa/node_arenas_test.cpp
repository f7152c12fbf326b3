// Per-node jemalloc arenas. This binary is linked with jemalloc (so the process allocates with it): threads
// that ask for one node's arena share it, another node gets another arena, and the choice is the thread's
// own. (Linked only in builds without sanitizers, whose allocators would clash with jemalloc's.)
#include "numa/node_arenas.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace tessel::numa {
namespace {

TEST(NodeArenasTest, ThreadsOfOneNodeShareAnArenaAndNodesDoNot) {
  ASSERT_TRUE(jemalloc_available()) << "this test binary links jemalloc";
  auto initial = current_arena();
  ASSERT_TRUE(initial.has_value()) << initial.error().to_string();
  unsigned node0 = 0;
  unsigned node0_again = 0;
  unsigned node1 = 0;
  std::thread a([&] {
    auto arena = use_node_arena(0);
    ASSERT_TRUE(arena.has_value()) << arena.error().to_string();
    node0 = *arena;
    EXPECT_EQ(current_arena().value_or(~0U), node0);
  });
  a.join();
  std::thread b([&] { node0_again = use_node_arena(0).value_or(~0U); });
  b.join();
  std::thread c([&] { node1 = use_node_arena(1).value_or(~0U); });
  c.join();
  EXPECT_EQ(node0_again, node0);
  EXPECT_NE(node1, node0);
  EXPECT_EQ(current_arena().value_or(~0U), *initial) << "other threads' choices do not change this one's";
}

}  // namespace
}  // namespace tessel::numa
