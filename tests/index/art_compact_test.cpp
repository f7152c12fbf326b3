// art::compact: the rebuilt tree equals the model and has the shape a sorted load of the same entries
// gives, its leaves lie in key order, frozen roots keep reading what they froze, and a region without room
// for the second copy leaves the tree as it was.
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

namespace tessel::index::test {
namespace {

/// Of the pairs of leaves that are neighbours in key order, the share whose second lies after the first in
/// the region: what lets a scan stream memory.
double ascending_share(const tree_type& t) {
  art_cursor<mmap::mapped_region> c = t.cursor();
  const std::byte* previous = nullptr;
  std::size_t pairs = 0;
  std::size_t ascending = 0;
  for (c.seek_to_first(); c.valid(); c.next()) {
    const std::byte* at = c.key().data();
    if (previous != nullptr) {
      ++pairs;
      if (at > previous) ++ascending;
    }
    previous = at;
  }
  return pairs == 0 ? 1.0 : static_cast<double>(ascending) / static_cast<double>(pairs);
}

/// Builds `m` in random order with some erases and overwrites, compacts, and checks the result.
void check_compact(model m) {
  tree_fixture f;
  rng r(99);
  std::vector<std::string> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  for (std::size_t i = keys.size(); i > 1; --i) std::swap(keys[i - 1], keys[r.below(static_cast<std::uint32_t>(i))]);
  model in_tree;
  for (const std::string& k : keys) {
    ASSERT_TRUE(put(f.tree, in_tree, k, "first"));
    if (r.percent(10)) {
      ASSERT_TRUE(del(f.tree, in_tree, keys[r.below(static_cast<std::uint32_t>(keys.size()))]));
    }
  }
  for (const std::string& k : keys) {
    if (in_tree.count(k) != 0) {
      ASSERT_TRUE(put(f.tree, in_tree, k, m.at(k)));
    }
  }
  const double before = ascending_share(f.tree);

  ASSERT_TRUE(f.tree.compact().has_value());
  ASSERT_TRUE(matches(f.tree, in_tree));
  // Nothing froze an epoch, so the old tree's blocks were freed, not retired: live is what is reachable.
  EXPECT_EQ(f.region->usage().live_bytes, reachable_bytes(*f.region, f.tree.root()));
  tree_fixture loaded;
  ASSERT_TRUE(load(loaded, in_tree));
  EXPECT_TRUE(same_shape(f.tree, loaded.tree));
  EXPECT_EQ(f.tree.leaf_bytes(), loaded.tree.leaf_bytes());
  // Every block came from the region's frontier, past the blocks the overwrites freed: the leaves ascend.
  EXPECT_EQ(ascending_share(f.tree), 1.0);
  EXPECT_LT(before, 0.6);
  std::size_t i = 0;
  for (const auto& [k, v] : in_tree) {
    if (i++ % 89 != 0) continue;
    for (const std::string& probe : probes_around(k, 8)) ASSERT_TRUE(seeks(f.tree, in_tree, probe));
    ASSERT_TRUE(range_scan_matches(f.tree, in_tree, k, k + "\xff"));
  }
}

TEST(ArtCompactTest, AnEmptyTreeStaysEmpty) {
  tree_fixture f;
  ASSERT_TRUE(f.tree.compact().has_value());
  EXPECT_TRUE(f.tree.root().is_empty());
  EXPECT_EQ(f.region->usage().live_bytes, 0U);
}

TEST(ArtCompactTest, KeyDistributionsKeepTheirEntriesAndTakeTheLoadersShape) {
  rng r(20261128);
  model sparse;
  for (int i = 0; i < 40000; ++i) sparse[r.bytes(1 + r.below(24))] = r.bytes(r.below(24));
  check_compact(sparse);
  model paths;
  for (int i = 0; i < 30000; ++i) {
    paths["/workloads/app-" + std::to_string(r.below(3000)) + "/instances/i" + std::to_string(r.below(12)) +
          (r.percent(50) ? "/state" : "")] = r.bytes(r.below(100));
  }
  check_compact(paths);
  model prefixes;
  for (int i = 0; i < 20000; ++i) {
    const std::string k = r.bytes(1 + r.below(6));
    for (std::size_t n = 0; n <= k.size(); ++n) prefixes[k.substr(0, n)] = std::to_string(n);
  }
  check_compact(prefixes);
}

TEST(ArtCompactTest, CompactingAgainReusesTheFreedCopyInOrder) {
  rng r(11);
  tree_fixture f;
  model m;
  for (int i = 0; i < 30000; ++i) ASSERT_TRUE(put(f.tree, m, "/c/" + std::to_string(r.below(1000000)), r.bytes(20)));
  ASSERT_TRUE(f.tree.compact().has_value());  // at the frontier: the freed blocks could not hold a copy
  const std::size_t committed = f.region->usage().committed_bytes;
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(f.tree.compact().has_value());
    ASSERT_TRUE(matches(f.tree, m));
    EXPECT_EQ(f.region->usage().committed_bytes, committed) << "round " << round << " grew the region";
    EXPECT_GT(ascending_share(f.tree), 0.99) << "round " << round;
  }
}

TEST(ArtCompactTest, FrozenRootsKeepReadingTheOldTree) {
  rng r(5);
  tree_fixture f;
  model m;
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(put(f.tree, m, "/k/" + std::to_string(r.below(1000000)), r.bytes(12)));
  const model at_freeze = m;
  const frozen_root frozen = f.tree.freeze();
  ASSERT_TRUE(put(f.tree, m, "/k/after-freeze", "x"));
  ASSERT_TRUE(f.tree.compact().has_value());
  EXPECT_TRUE(matches(f.tree, m));
  EXPECT_TRUE(matches(f.tree, at_freeze, &frozen));
  // The compacted tree takes writes and copy-on-write as any other.
  const model at_second = m;
  const frozen_root second = f.tree.freeze();
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "/k/" + std::to_string(r.below(1000000));
    ASSERT_TRUE(r.percent(30) ? del(f.tree, m, k) : put(f.tree, m, k, r.bytes(r.below(30))));
  }
  EXPECT_TRUE(matches(f.tree, m));
  EXPECT_TRUE(matches(f.tree, at_second, &second));
  EXPECT_TRUE(matches(f.tree, at_freeze, &frozen));
}

TEST(ArtCompactTest, ARegionWithoutRoomForTheCopyLeavesTheTreeAsItWas) {
  tree_fixture f(std::size_t{4} << 20);
  model m;
  for (int i = 0; i < 1000000; ++i) {
    char k[16];
    std::snprintf(k, sizeof k, "/k/%09d", (i * 7919) % 1000000);
    const std::string key(k);
    if (!f.tree.upsert(kv(key), kv(std::string(40, 'v'))).has_value()) break;
    m[key] = std::string(40, 'v');
    // Stop at well over half the region: two copies cannot fit.
    if (f.region->usage().live_bytes > (std::size_t{5} << 19)) break;
  }
  ASSERT_GT(m.size(), 10000U);
  const std::size_t live = f.region->usage().live_bytes;
  const auto failed = f.tree.compact();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), errc::no_space) << failed.error().to_string();
  EXPECT_TRUE(matches(f.tree, m));
  EXPECT_EQ(f.region->usage().live_bytes, live) << "the partial copy is freed";
  EXPECT_EQ(f.region->usage().live_bytes, reachable_bytes(*f.region, f.tree.root()));
  // The tree still takes writes.
  ASSERT_TRUE(del(f.tree, m, m.begin()->first));
  EXPECT_TRUE(matches(f.tree, m));
}

}  // namespace
}  // namespace tessel::index::test
