// Copy-on-write by epoch: a frozen root keeps the exact contents it had when frozen while the live tree takes
// random inserts, overwrites, erases and clears; several frozen roots of different epochs coexist; reclaim()
// frees only what no named frozen root can reach, and with none named the region holds exactly the live tree.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

namespace tessel::index::test {
namespace {

/// Keys of two shapes: path keys with shared prefixes, and short random bytes.
class key_source {
 public:
  explicit key_source(std::uint64_t seed) : rng_(seed) {}

  std::string fresh() {
    if (rng_.percent(60)) {
      return "/t" + std::to_string(rng_.below(40)) + "/obj-" + std::to_string(rng_.below(100000)) +
             (rng_.percent(20) ? "/meta" : "");
    }
    return rng_.bytes(1 + rng_.below(12));
  }
  std::string value() { return std::string(rng_.below(40), static_cast<char>('a' + rng_.below(26))); }
  rng& random() noexcept { return rng_; }

 private:
  rng rng_;
};

/// `count` random writes: 40% inserts of fresh keys, 30% overwrites and 30% erases of keys seen before
/// (which may be gone already). `pool` remembers every key written.
::testing::AssertionResult random_writes(tree_type& t, model& m, key_source& keys, std::vector<std::string>& pool,
                                         std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t r = keys.random().below(100);
    if (r < 40 || pool.empty()) {
      std::string k = keys.fresh();
      if (auto res = put(t, m, k, keys.value()); !res) return res;
      pool.push_back(std::move(k));
    } else if (r < 70) {
      if (auto res = put(t, m, pool[keys.random().below(pool.size())], keys.value()); !res) return res;
    } else {
      if (auto res = del(t, m, pool[keys.random().below(pool.size())]); !res) return res;
    }
  }
  return ::testing::AssertionSuccess();
}

/// A frozen root with the model copied when it was frozen.
struct version {
  frozen_root root;
  model contents;
};

/// find(frozen, k) for a sample of keys: some of the frozen contents, some written since.
::testing::AssertionResult sampled_finds(const tree_type& t, const version& v, const std::vector<std::string>& pool,
                                         rng& r, std::size_t samples) {
  for (std::size_t i = 0; i < samples && !pool.empty(); ++i) {
    if (auto res = finds(t, v.contents, pool[r.below(pool.size())], &v.root); !res) return res;
  }
  return ::testing::AssertionSuccess();
}

class ArtCowTest : public ::testing::Test {
 protected:
  void fill(std::size_t n) {
    while (live_.size() < n) {
      std::string k = keys_.fresh();
      ASSERT_TRUE(put(f_.tree, live_, k, keys_.value()));
      pool_.push_back(std::move(k));
    }
  }
  version freeze() { return {f_.tree.freeze(), live_}; }
  [[nodiscard]] std::size_t live_bytes() const { return f_.region->usage().live_bytes; }

  tree_fixture f_;
  model live_;
  key_source keys_{0xC0C0'0001};
  std::vector<std::string> pool_;
};

TEST_F(ArtCowTest, EpochStartsAtOneAndFreezeAdvancesIt) {
  EXPECT_EQ(f_.tree.epoch(), 1u);
  ASSERT_NO_FATAL_FAILURE(fill(10));
  const frozen_root a = f_.tree.freeze();
  EXPECT_EQ(a.epoch, 1u);
  EXPECT_EQ(a.size, 10u);
  EXPECT_EQ(f_.tree.epoch(), 2u);
  const frozen_root b = f_.tree.freeze();
  EXPECT_EQ(b.epoch, 2u);
  EXPECT_EQ(f_.tree.epoch(), 3u);
}

TEST_F(ArtCowTest, WritesWithoutAFrozenRootRetireNothing) {
  ASSERT_NO_FATAL_FAILURE(fill(5000));
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 20000));
  EXPECT_EQ(f_.tree.retired_count(), 0u) << "blocks born in the current epoch are freed at once";
  EXPECT_TRUE(matches(f_.tree, live_));
  EXPECT_EQ(live_bytes(), reachable_bytes(*f_.region, f_.tree.root()));
}

TEST_F(ArtCowTest, FrozenRootIsUnchangedByOneHundredThousandWrites) {
  ASSERT_NO_FATAL_FAILURE(fill(20000));
  const version frozen = freeze();
  rng sampler(99);
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 5000)) << "round " << round;
    // Interleaved reads of the frozen root: a write that changed a frozen block in place shows up here.
    ASSERT_TRUE(sampled_finds(f_.tree, frozen, pool_, sampler, 2000)) << "round " << round;
  }
  EXPECT_GT(f_.tree.retired_count(), 0u);
  EXPECT_TRUE(matches(f_.tree, frozen.contents, &frozen.root));
  EXPECT_TRUE(matches(f_.tree, live_));
  for (std::size_t i = 0; i < 2000; ++i) {
    const std::string& k = pool_[sampler.below(pool_.size())];
    ASSERT_TRUE(seeks(f_.tree, frozen.contents, k, &frozen.root));
    ASSERT_TRUE(prefix_scan_matches(f_.tree, frozen.contents, k.substr(0, k.size() / 2), &frozen.root));
  }
}

TEST_F(ArtCowTest, SeveralFrozenRootsAtDifferentEpochs) {
  std::vector<version> versions;
  ASSERT_NO_FATAL_FAILURE(fill(3000));
  versions.push_back(freeze());
  // Phases that change the tree in different ways between freezes.
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 10000));
  versions.push_back(freeze());
  for (std::size_t i = 0; i < pool_.size(); i += 2) ASSERT_TRUE(del(f_.tree, live_, pool_[i]));  // erase half
  versions.push_back(freeze());
  const model before_overwrite = live_;
  for (const auto& [k, v] : before_overwrite) ASSERT_TRUE(put(f_.tree, live_, k, v + v + "!"));  // overwrite all
  versions.push_back(freeze());
  ASSERT_NO_FATAL_FAILURE(fill(live_.size() + 8000));  // grow nodes into larger kinds
  versions.push_back(freeze());
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 10000));

  rng sampler(7);
  for (std::size_t i = 0; i < versions.size(); ++i) {
    SCOPED_TRACE("version " + std::to_string(i) + " at epoch " + std::to_string(versions[i].root.epoch));
    EXPECT_EQ(versions[i].root.size, versions[i].contents.size());
    EXPECT_TRUE(matches(f_.tree, versions[i].contents, &versions[i].root));
    EXPECT_TRUE(sampled_finds(f_.tree, versions[i], pool_, sampler, 3000));
  }
  EXPECT_TRUE(matches(f_.tree, live_));
}

TEST_F(ArtCowTest, ReclaimFreesOnlyWhatNoNamedRootReaches) {
  std::vector<version> versions;
  ASSERT_NO_FATAL_FAILURE(fill(4000));
  for (int i = 0; i < 4; ++i) {
    versions.push_back(freeze());
    ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 8000));
  }
  const std::size_t retired_before = f_.tree.retired_count();
  const std::size_t live_before = live_bytes();
  // Keep the second and the fourth.
  const std::vector<std::uint64_t> keep = {versions[1].root.epoch, versions[3].root.epoch};
  f_.tree.reclaim(keep);
  EXPECT_LT(f_.tree.retired_count(), retired_before);
  EXPECT_GT(f_.tree.retired_count(), 0u);
  EXPECT_LT(live_bytes(), live_before);
  EXPECT_TRUE(matches(f_.tree, versions[1].contents, &versions[1].root));
  EXPECT_TRUE(matches(f_.tree, versions[3].contents, &versions[3].root));
  EXPECT_TRUE(matches(f_.tree, live_));

  // New writes reuse the freed blocks; the kept versions must not notice.
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 20000));
  EXPECT_TRUE(matches(f_.tree, versions[1].contents, &versions[1].root));
  EXPECT_TRUE(matches(f_.tree, versions[3].contents, &versions[3].root));

  // Keep only one, write more, check it again.
  const std::vector<std::uint64_t> keep_one = {versions[1].root.epoch};
  f_.tree.reclaim(keep_one);
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 20000));
  EXPECT_TRUE(matches(f_.tree, versions[1].contents, &versions[1].root));
  EXPECT_TRUE(matches(f_.tree, live_));
}

TEST_F(ArtCowTest, ReclaimWithNoFrozenRootsLeavesExactlyTheLiveTree) {
  ASSERT_NO_FATAL_FAILURE(fill(10000));
  for (int i = 0; i < 3; ++i) {
    (void)f_.tree.freeze();
    ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 15000));
  }
  ASSERT_GT(f_.tree.retired_count(), 0u);
  f_.tree.reclaim({});
  EXPECT_EQ(f_.tree.retired_count(), 0u);
  EXPECT_TRUE(matches(f_.tree, live_));
  EXPECT_GT(f_.region->usage().free_bytes, 0u);

  // Nothing but the live tree holds region memory: every live byte is reachable from the live root.
  EXPECT_EQ(live_bytes(), reachable_bytes(*f_.region, f_.tree.root()));
  // A fresh tree built from the same contents holds the same leaves and is just as tight. (Its inner bytes
  // may differ: hysteresis can keep a larger node kind, and an n256 keeps the slot groups it grew.)
  tree_fixture fresh;
  model copy;
  for (const auto& [k, v] : live_) ASSERT_TRUE(put(fresh.tree, copy, k, v));
  EXPECT_EQ(fresh.region->usage().live_bytes, reachable_bytes(*fresh.region, fresh.tree.root()));
  EXPECT_EQ(f_.tree.leaf_bytes(), fresh.tree.leaf_bytes());
  EXPECT_EQ(f_.tree.stats().leaves, fresh.tree.stats().leaves);
}

TEST_F(ArtCowTest, ReclaimKeepingOneEpochKeepsThatRootIntact) {
  ASSERT_NO_FATAL_FAILURE(fill(6000));
  (void)f_.tree.freeze();
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 10000));
  const version kept = freeze();
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 10000));
  (void)f_.tree.freeze();
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 10000));
  const std::vector<std::uint64_t> keep = {kept.root.epoch};
  f_.tree.reclaim(keep);
  EXPECT_TRUE(matches(f_.tree, kept.contents, &kept.root));
  // Erase everything live: every block the kept root shares is retired now, none may be freed.
  const model before_erase = live_;
  for (const auto& [k, v] : before_erase) ASSERT_TRUE(del(f_.tree, live_, k));
  f_.tree.reclaim(keep);
  EXPECT_TRUE(matches(f_.tree, kept.contents, &kept.root));
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 10000));
  EXPECT_TRUE(matches(f_.tree, kept.contents, &kept.root));
  // Dropping it returns the region to the live tree alone.
  f_.tree.reclaim({});
  EXPECT_EQ(f_.tree.retired_count(), 0u);
  EXPECT_EQ(live_bytes(), reachable_bytes(*f_.region, f_.tree.root()));
}

// A reclaim in slices (a store's checkpointer) frees what reclaim() would, while writes between the slices
// go on retiring blocks: those stay retired, reclaim() does nothing and restore() is refused until the
// last slice, and every version kept stays whole.
TEST_F(ArtCowTest, ReclaimInSlicesFreesWhatReclaimWouldWhileWritesGoOn) {
  ASSERT_NO_FATAL_FAILURE(fill(4000));
  (void)f_.tree.freeze();
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 8000));
  const version kept = freeze();
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 8000));
  const std::size_t retired_before = f_.tree.retired_count();
  const std::size_t live_before = live_bytes();
  const std::vector<std::uint64_t> keep = {kept.root.epoch};
  ASSERT_TRUE(f_.tree.begin_reclaim(keep));
  EXPECT_TRUE(f_.tree.reclaiming_in_slices());
  std::vector<const std::byte*> next;
  next.reserve(64);
  std::size_t slices = 0;
  do {
    f_.tree.next_slice_blocks(256, next);
    EXPECT_LE(next.size(), 64U) << "listed past the vector's capacity";
    // Between slices: writes retire more, a reclaim is a no-op, a restore is refused.
    ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 20));
    const std::size_t retired = f_.tree.retired_count();
    f_.tree.reclaim({});
    EXPECT_EQ(f_.tree.retired_count(), retired) << "reclaim() ran beside a reclaim in slices";
    const auto restored = f_.tree.restore(kept.root, 0);
    ASSERT_FALSE(restored.has_value());
    EXPECT_EQ(restored.error().code(), errc::not_supported);
    ++slices;
  } while (f_.tree.reclaim_slice(256));
  EXPECT_FALSE(f_.tree.reclaiming_in_slices());
  EXPECT_GT(slices, 2U);
  EXPECT_LT(live_bytes(), live_before);
  EXPECT_LT(f_.tree.retired_count(), retired_before);
  EXPECT_TRUE(matches(f_.tree, kept.contents, &kept.root));
  EXPECT_TRUE(matches(f_.tree, live_));
  // What the slices kept and what the writes retired meanwhile are all still retired: dropping the kept
  // version frees everything but the live tree.
  f_.tree.reclaim({});
  EXPECT_EQ(f_.tree.retired_count(), 0U);
  EXPECT_EQ(live_bytes(), reachable_bytes(*f_.region, f_.tree.root()));
}

TEST_F(ArtCowTest, RestoreMakesAFrozenRootLiveAndRetiresOnlyWhatCameAfter) {
  ASSERT_NO_FATAL_FAILURE(fill(8000));
  const version base = freeze();
  const std::size_t base_leaf_bytes = f_.tree.leaf_bytes();
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 12000));
  const version later = freeze();
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 12000));
  ASSERT_TRUE(f_.tree.restore(base.root, base_leaf_bytes));
  live_ = base.contents;
  EXPECT_TRUE(matches(f_.tree, live_));
  EXPECT_EQ(f_.tree.size(), base.contents.size());
  EXPECT_EQ(f_.tree.leaf_bytes(), base_leaf_bytes);
  ASSERT_TRUE(f_.tree.verify());
  // Writes after the restore copy the shared blocks: both frozen roots keep their contents.
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 12000));
  EXPECT_TRUE(matches(f_.tree, base.contents, &base.root));
  EXPECT_TRUE(matches(f_.tree, later.contents, &later.root));
  EXPECT_TRUE(matches(f_.tree, live_));
  // Restoring the live tree's own past, then dropping every frozen root, leaves exactly the live tree.
  // `later` was frozen before the restore to `base`, which brought back blocks `later` does not reach.
  ASSERT_TRUE(f_.tree.restore(later.root, [&] {
    std::size_t bytes = 0;
    for (const auto& [k, v] : later.contents) bytes += leaf_layout::block_size(k.size(), v.size());
    return bytes;
  }()));
  live_ = later.contents;
  f_.tree.reclaim({});
  EXPECT_TRUE(matches(f_.tree, live_));
  EXPECT_EQ(f_.tree.retired_count(), 0u);
  EXPECT_EQ(live_bytes(), reachable_bytes(*f_.region, f_.tree.root()));
}

TEST_F(ArtCowTest, FreezeOfAnEmptyTree) {
  const version empty = freeze();
  EXPECT_EQ(empty.root.size, 0u);
  ASSERT_NO_FATAL_FAILURE(fill(100));
  EXPECT_TRUE(matches(f_.tree, empty.contents, &empty.root));
  auto c = f_.tree.cursor(empty.root);
  c.seek_to_first();
  EXPECT_FALSE(c.valid());
  EXPECT_FALSE(f_.tree.find(empty.root, kv(pool_.front())).has_value());
}

TEST_F(ArtCowTest, TwoFreezesWithoutWritesShareARoot) {
  ASSERT_NO_FATAL_FAILURE(fill(2000));
  const version a = freeze();
  const version b = freeze();
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 5000));
  const std::vector<std::uint64_t> keep_b = {b.root.epoch};
  f_.tree.reclaim(keep_b);  // a is gone, b reaches the same blocks
  EXPECT_TRUE(matches(f_.tree, b.contents, &b.root));
  EXPECT_EQ(a.contents, b.contents);
  ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 5000));
  EXPECT_TRUE(matches(f_.tree, b.contents, &b.root));
}

TEST_F(ArtCowTest, ClearAfterFreezeKeepsTheFrozenRoot) {
  ASSERT_NO_FATAL_FAILURE(fill(3000));
  const version frozen = freeze();
  f_.tree.clear();
  live_.clear();
  EXPECT_TRUE(matches(f_.tree, live_));
  EXPECT_TRUE(matches(f_.tree, frozen.contents, &frozen.root));
  ASSERT_NO_FATAL_FAILURE(fill(3000));
  EXPECT_TRUE(matches(f_.tree, frozen.contents, &frozen.root));
  const std::vector<std::uint64_t> keep = {frozen.root.epoch};
  f_.tree.reclaim(keep);
  EXPECT_TRUE(matches(f_.tree, frozen.contents, &frozen.root));
  f_.tree.reclaim({});
  EXPECT_EQ(live_bytes(), reachable_bytes(*f_.region, f_.tree.root()));
}

TEST_F(ArtCowTest, CursorOnAFrozenRootSurvivesWrites) {
  // art_cursor.hpp: a cursor on a frozen root stays valid while the writer works.
  ASSERT_NO_FATAL_FAILURE(fill(5000));
  const version frozen = freeze();
  auto c = f_.tree.cursor(frozen.root);
  auto it = frozen.contents.begin();
  c.seek_to_first();
  for (std::size_t n = 0; it != frozen.contents.end(); ++it, ++n, c.next()) {
    ASSERT_TRUE(cursor_at(c, frozen.contents, it) << " at entry " << n);
    if (n % 500 == 0) {
      ASSERT_TRUE(random_writes(f_.tree, live_, keys_, pool_, 1000));
    }
  }
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(matches(f_.tree, live_));
}

}  // namespace
}  // namespace tessel::index::test
