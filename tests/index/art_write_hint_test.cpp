// art::find_for_update: an upsert of a key read so (one of the last four) with a same-size value overwrites
// its leaf in place, without a second walk; every other change forgets the leaves remembered. The hazards are a leaf
// that was freed (erase, clear, a replaced leaf's block reused), one a frozen root reaches (freeze, restore), and a
// tree rebuilt under the hint (compact): an upsert that trusted a stale hint would write into a dead block and lose the
// write, or change a frozen root's contents.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

namespace tessel::index::test {
namespace {

/// find_for_update of `k`, which must hold `expected`.
::testing::AssertionResult read_for_update(tree_type& t, const std::string& k, const std::string& expected) {
  const auto v = t.find_for_update(kv(k));
  if (!v) return ::testing::AssertionFailure() << "find_for_update " << show(k) << " missed";
  if (as_string_view(*v) != expected) {
    return ::testing::AssertionFailure() << "find_for_update " << show(k) << " gave " << show(*v);
  }
  return ::testing::AssertionSuccess();
}

TEST(ArtWriteHintTest, SameSizeValueIsOverwrittenInPlace) {
  tree_fixture f;
  model m;
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(put(f.tree, m, "/k/" + std::to_string(i), "value-" + std::to_string(i % 10)));
  const std::size_t committed = f.region->usage().live_bytes;
  for (int i = 0; i < 1000; i += 7) {
    const std::string k = "/k/" + std::to_string(i);
    ASSERT_TRUE(read_for_update(f.tree, k, m[k]));
    ASSERT_TRUE(put(f.tree, m, k, "VALUE-" + std::to_string(i % 10)));
  }
  EXPECT_EQ(f.region->usage().live_bytes, committed);  // no leaf was replaced
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtWriteHintTest, AnotherKeyOrSizeTakesTheWalk) {
  tree_fixture f;
  model m;
  for (const char* k : {"a", "ab", "abc", "b"}) ASSERT_TRUE(put(f.tree, m, k, "1234"));
  ASSERT_TRUE(read_for_update(f.tree, "ab", "1234"));
  ASSERT_TRUE(put(f.tree, m, "abc", "9999"));  // the hint is ab's leaf: not this key
  ASSERT_TRUE(read_for_update(f.tree, "ab", "1234"));
  ASSERT_TRUE(put(f.tree, m, "ab", "a longer value"));  // another size: a new leaf
  ASSERT_TRUE(read_for_update(f.tree, "a", "1234"));
  ASSERT_TRUE(put(f.tree, m, "a", "4321"));
  ASSERT_TRUE(put(f.tree, m, "a", "5678"));  // in place again: the leaf is still the key's
  EXPECT_TRUE(matches(f.tree, m));
}

// A transaction reads its keys, then writes them: the last four reads stay remembered while the writes go in
// place, and a fifth key read pushes out the oldest.
TEST(ArtWriteHintTest, TheLastFourReadsStayRemembered) {
  tree_fixture f;
  model m;
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(put(f.tree, m, "/t/" + std::to_string(i), "0000"));
  const std::size_t live = f.region->usage().live_bytes;
  for (int round = 0; round < 20; ++round) {
    const int first = round * 17 % 490;
    for (int i = 0; i < 5; ++i) (void)f.tree.find_for_update(kv("/t/" + std::to_string(first + i)));
    for (int i = 4; i >= 0; --i) {
      ASSERT_TRUE(put(f.tree, m, "/t/" + std::to_string(first + i), std::to_string(1000 + round)));
      // The four newest are written in place and keep the others remembered; the oldest takes the walk, which
      // forgets them (it too writes in place: a leaf of this epoch).
      EXPECT_EQ(f.tree.remembers_leaf(), i > 0) << round << " " << i;
    }
  }
  EXPECT_EQ(f.region->usage().live_bytes, live);
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtWriteHintTest, ChangesBetweenForgetTheLeaf) {
  tree_fixture f;
  model m;
  const auto fill = [&] {
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(put(f.tree, m, "/x/" + std::to_string(i), "v" + std::to_string(i % 10)));
  };
  fill();

  // Erased, so its block is free (born in this epoch); the upsert must insert the key again.
  ASSERT_TRUE(read_for_update(f.tree, "/x/5", "v5"));
  ASSERT_TRUE(del(f.tree, m, "/x/5"));
  ASSERT_TRUE(put(f.tree, m, "/x/5", "w5"));
  ASSERT_TRUE(matches(f.tree, m));

  // Replaced by a value of another size, and the freed block taken by the next leaf of that size.
  ASSERT_TRUE(read_for_update(f.tree, "/x/6", "v6"));
  ASSERT_TRUE(put(f.tree, m, "/x/6", "a longer value"));
  ASSERT_TRUE(put(f.tree, m, "/y/6", "v6"));
  ASSERT_TRUE(put(f.tree, m, "/x/6", "w6"));
  ASSERT_TRUE(matches(f.tree, m));

  // Cleared.
  ASSERT_TRUE(read_for_update(f.tree, "/x/7", "v7"));
  f.tree.clear();
  m.clear();
  ASSERT_TRUE(put(f.tree, m, "/x/7", "w7"));
  ASSERT_TRUE(matches(f.tree, m));
  fill();

  // Frozen: the leaf is the frozen root's now, and stays as it was.
  ASSERT_TRUE(read_for_update(f.tree, "/x/8", "v8"));
  const std::size_t frozen_leaf_bytes = f.tree.leaf_bytes();
  const frozen_root frozen = f.tree.freeze();
  const model at_freeze = m;
  ASSERT_TRUE(put(f.tree, m, "/x/8", "w8"));
  ASSERT_TRUE(matches(f.tree, m));
  ASSERT_TRUE(matches(f.tree, at_freeze, &frozen));

  // Restored to the frozen root: the leaf found before is not the live one any more.
  ASSERT_TRUE(put(f.tree, m, "/x/9", "w9"));
  ASSERT_TRUE(read_for_update(f.tree, "/x/9", "w9"));
  ASSERT_TRUE(f.tree.restore(frozen, frozen_leaf_bytes).has_value());
  m = at_freeze;
  ASSERT_TRUE(put(f.tree, m, "/x/9", "u9"));
  ASSERT_TRUE(matches(f.tree, m));
  ASSERT_TRUE(matches(f.tree, at_freeze, &frozen));

  // Compacted: every leaf moved.
  ASSERT_TRUE(read_for_update(f.tree, "/x/10", "v0"));
  ASSERT_TRUE(f.tree.compact().has_value());
  ASSERT_TRUE(put(f.tree, m, "/x/10", "w0"));
  ASSERT_TRUE(matches(f.tree, m));
}

// Each change forgets the leaf: an upsert (which uses it or not), erase, clear, restore, compact, and the
// bookkeeping of epochs and retired blocks that open does. Freeze and reclaim change nothing the leaf is
// part of, and keep it (a store's checkpointer runs them beside a transaction's reads: art.hpp); a leaf
// frozen since it was found is still never overwritten in place.
TEST(ArtWriteHintTest, EveryChangeForgetsTheLeaf) {
  tree_fixture f;
  model m;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(put(f.tree, m, "/z/" + std::to_string(i), "value"));
  const frozen_root frozen = f.tree.freeze();
  const std::size_t frozen_leaf_bytes = f.tree.leaf_bytes();
  const auto forgets = [&](const char* change, auto&& apply) {
    (void)f.tree.find_for_update(kv("/z/1"));
    EXPECT_TRUE(f.tree.remembers_leaf()) << change;
    apply();
    EXPECT_FALSE(f.tree.remembers_leaf()) << change;
  };
  forgets("upsert of another key", [&] { ASSERT_TRUE(put(f.tree, m, "/z/2", "other")); });
  forgets("upsert of the key", [&] { ASSERT_TRUE(put(f.tree, m, "/z/1", "other")); });
  forgets("erase", [&] { ASSERT_TRUE(del(f.tree, m, "/z/3")); });
  // Kept by freeze and reclaim, but the frozen leaf is copied, not overwritten.
  ASSERT_TRUE(read_for_update(f.tree, "/z/5", "value"));
  const frozen_root before_write = f.tree.freeze();
  const model at_freeze = m;
  f.tree.reclaim(std::vector<std::uint64_t>{frozen.epoch, before_write.epoch});
  EXPECT_TRUE(f.tree.remembers_leaf()) << "freeze and reclaim";
  ASSERT_TRUE(put(f.tree, m, "/z/5", "VALUE"));
  EXPECT_TRUE(matches(f.tree, m));
  EXPECT_TRUE(matches(f.tree, at_freeze, &before_write)) << "the frozen leaf was overwritten in place";
  forgets("restore", [&] { ASSERT_TRUE(f.tree.restore(frozen, frozen_leaf_bytes).has_value()); });
  forgets("adopt_retired", [&] { ASSERT_TRUE(f.tree.adopt_retired({}).has_value()); });
  forgets("open_epoch_after", [&] { f.tree.open_epoch_after(f.tree.epoch()); });
  forgets("compact", [&] { ASSERT_TRUE(f.tree.compact().has_value()); });
  forgets("clear", [&] { f.tree.clear(); });
  // A miss remembers nothing.
  (void)f.tree.find_for_update(kv("/absent"));
  EXPECT_FALSE(f.tree.remembers_leaf());
}

// Reads for update before most writes, in random order with erases, freezes and reclaims between, against a
// model; the frozen roots must keep their contents.
TEST(ArtWriteHintTest, RandomReadModifyWritesMatchTheModel) {
  tree_fixture f;
  model m;
  rng r(57);
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) keys.push_back(i % 3 == 0 ? r.bytes(1 + r.below(6)) : "/p/" + std::to_string(i));
  std::vector<std::pair<frozen_root, model>> frozen;
  for (int step = 0; step < 40000; ++step) {
    const std::string& k = keys[r.below(keys.size())];
    const std::size_t op = r.below(100);
    if (op < 60) {
      const auto it = m.find(k);
      const auto v = f.tree.find_for_update(kv(k));
      ASSERT_EQ(v.has_value(), it != m.end()) << show(k);
      if (r.percent(10)) {
        ASSERT_TRUE(put(f.tree, m, keys[r.below(keys.size())], "other"));  // a change between: the hint goes
      }
      ASSERT_TRUE(
          put(f.tree, m, k, std::string(r.percent(80) ? 8 : 1 + r.below(20), static_cast<char>('a' + step % 26))));
    } else if (op < 85) {
      ASSERT_TRUE(put(f.tree, m, k, std::string(8, 'z')));
    } else if (op < 98) {
      (void)f.tree.find_for_update(kv(k));
      ASSERT_TRUE(del(f.tree, m, k));
    } else if (frozen.size() < 4) {
      frozen.emplace_back(f.tree.freeze(), m);
    } else {
      frozen.erase(frozen.begin());
      std::vector<std::uint64_t> live;
      for (const auto& [root, contents] : frozen) live.push_back(root.epoch);
      f.tree.reclaim(live);
    }
  }
  ASSERT_TRUE(matches(f.tree, m));
  for (const auto& [root, contents] : frozen) ASSERT_TRUE(matches(f.tree, contents, &root));
}

}  // namespace
}  // namespace tessel::index::test
