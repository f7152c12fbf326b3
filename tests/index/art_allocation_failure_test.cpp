// A failed allocation leaves the tree as it was (art.hpp, docs/design.md): in a region too small for the
// workload, writes fail at every point of the write path (new leaf, node growth, shrink, copy-on-write
// copies of the path), and after each failure the live tree, and any frozen root, still equal their models.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

namespace tessel::index::test {
namespace {

constexpr std::size_t small_reserve = std::size_t{2} << 20;  // one huge page

/// Erases up to `n` keys, each when the tree has room for it, so the next failure comes at another point.
void make_room(tree_type& t, model& m, rng& r, int n) {
  for (int j = 0; j < n && !m.empty(); ++j) {
    auto it = m.lower_bound(r.bytes(2));
    if (it == m.end()) it = m.begin();
    const std::string k = it->first;
    const auto res = t.erase(kv(k));
    if (res && *res) m.erase(k);
  }
}

/// One random write (an erase, an overwrite or an insert), mirrored into the model only when it succeeds.
/// Sets `failed` when the tree refused it; a refusal other than no_space fails the check.
::testing::AssertionResult write(tree_type& t, model& m, rng& r, std::vector<std::string>& pool, bool& failed) {
  failed = false;
  const bool erase = !pool.empty() && r.percent(30);
  if (erase) {
    const std::string k = pool[r.below(pool.size())];
    const auto res = t.erase(kv(k));
    if (!res) {
      failed = true;
      if (res.error().code() != errc::no_space) {
        return ::testing::AssertionFailure() << "erase failed with " << res.error().to_string();
      }
      return ::testing::AssertionSuccess();
    }
    if (*res != (m.erase(k) == 1)) return ::testing::AssertionFailure() << "erase " << show(k) << " answered " << *res;
    return ::testing::AssertionSuccess();
  }
  std::string k = r.percent(50) && !pool.empty() ? pool[r.below(pool.size())] : r.bytes(1 + r.below(10));
  const std::string v = r.bytes(r.below(700));
  const auto res = t.upsert(kv(k), kv(v));
  if (!res) {
    failed = true;
    if (res.error().code() != errc::no_space) {
      return ::testing::AssertionFailure() << "upsert failed with " << res.error().to_string();
    }
    if (res.error().message().empty()) return ::testing::AssertionFailure() << "no_space without a message";
    return ::testing::AssertionSuccess();
  }
  const bool inserted = m.insert_or_assign(k, v).second;
  if (inserted != (*res == upsert_result::inserted)) {
    return ::testing::AssertionFailure() << "upsert " << show(k) << " answered the wrong inserted/replaced";
  }
  pool.push_back(std::move(k));
  return ::testing::AssertionSuccess();
}

TEST(ArtAllocationFailureTest, FailedWritesLeaveTheTreeUnchanged) {
  tree_fixture f(small_reserve);
  model m;
  rng r(0xFA11'0001);
  std::vector<std::string> pool;
  std::size_t failures = 0;
  for (int i = 0; i < 200000 && failures < 150; ++i) {
    bool failed = false;
    ASSERT_TRUE(write(f.tree, m, r, pool, failed)) << "write " << i;
    if (!failed) continue;
    ++failures;
    ASSERT_TRUE(matches(f.tree, m)) << "after failure " << failures << " at write " << i;
    make_room(f.tree, m, r, 5);
  }
  EXPECT_GE(failures, 150u) << "the region never filled up";
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtAllocationFailureTest, FailedCopyOnWriteLeavesLiveAndFrozenTreesUnchanged) {
  tree_fixture f(small_reserve);
  model m;
  rng r(0xFA11'0002);
  std::vector<std::string> pool;
  for (int i = 0; i < 800; ++i) {
    bool failed = false;
    ASSERT_TRUE(write(f.tree, m, r, pool, failed));
    ASSERT_FALSE(failed) << "the initial fill does not fit; shrink it";
  }
  frozen_root frozen = f.tree.freeze();
  model frozen_model = m;
  std::size_t failures = 0;
  for (int i = 0; i < 200000 && failures < 60; ++i) {
    bool failed = false;
    ASSERT_TRUE(write(f.tree, m, r, pool, failed)) << "write " << i;
    if (!failed) continue;
    ++failures;
    ASSERT_TRUE(matches(f.tree, m)) << "live tree after failure " << failures << " at write " << i;
    ASSERT_TRUE(matches(f.tree, frozen_model, &frozen)) << "frozen tree after failure " << failures;
    // Move the frozen root forward and free what only the old one held.
    frozen = f.tree.freeze();
    frozen_model = m;
    const std::vector<std::uint64_t> keep = {frozen.epoch};
    f.tree.reclaim(keep);
    make_room(f.tree, m, r, 5);
    ASSERT_TRUE(matches(f.tree, frozen_model, &frozen));
  }
  EXPECT_GE(failures, 60u) << "the region never filled up";
  f.tree.reclaim({});
  EXPECT_TRUE(matches(f.tree, m));
  EXPECT_EQ(f.region->usage().live_bytes, reachable_bytes(*f.region, f.tree.root()));
}

}  // namespace
}  // namespace tessel::index::test
