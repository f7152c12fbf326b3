// art::sorted_loader: a tree loaded bottom-up from sorted keys equals the model, has the node kinds that
// upserts of the same keys leave, takes writes and copy-on-write afterwards, and on bad input or a full
// region leaves the tree empty with every block it made freed.
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

namespace tessel::index::test {
namespace {

/// Loads `m`, compares with the model and with a tree built by upserts, probes seeks around some keys.
void check_load(const model& m) {
  tree_fixture loaded;
  ASSERT_TRUE(load(loaded, m));
  ASSERT_TRUE(matches(loaded.tree, m));
  EXPECT_EQ(loaded.region->usage().live_bytes, reachable_bytes(*loaded.region, loaded.tree.root()));
  tree_fixture upserted;
  for (const auto& [k, v] : m) ASSERT_TRUE(upserted.tree.upsert(kv(k), kv(v)).has_value());
  EXPECT_TRUE(same_shape(loaded.tree, upserted.tree));
  EXPECT_EQ(loaded.tree.leaf_bytes(), upserted.tree.leaf_bytes());
  std::size_t i = 0;
  for (const auto& [k, v] : m) {
    if (i++ % 97 != 0) continue;
    for (const std::string& probe : probes_around(k, 8)) ASSERT_TRUE(seeks(loaded.tree, m, probe));
    ASSERT_TRUE(prefix_scan_matches(loaded.tree, m, k.substr(0, k.size() / 2)));
  }
}

TEST(ArtSortedLoaderTest, EmptyLoadLeavesAnEmptyTree) {
  tree_fixture f;
  ASSERT_TRUE(load(f, {}));
  EXPECT_TRUE(matches(f.tree, {}));
  EXPECT_TRUE(f.tree.root().is_empty());
}

TEST(ArtSortedLoaderTest, OneKeyIsARootLeaf) {
  tree_fixture f;
  const model m{{"only", "v"}};
  ASSERT_TRUE(load(f, m));
  EXPECT_TRUE(f.tree.root().is_leaf());
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtSortedLoaderTest, KeysThatArePrefixesOfOthersBecomeTerminals) {
  check_load({{"", "empty"},
              {"/a", "1"},
              {"/a/b", "2"},
              {"/a/b/c", "3"},
              {"/a/b/d", "4"},
              {"/a/bc", "5"},
              {std::string("/a\0", 3), "nul"},
              {std::string("/a\0\0", 4), "nul2"},
              {"/b", "6"}});
}

TEST(ArtSortedLoaderTest, AnN4WithATerminalHoldsThreeChildren) {
  // A terminal and four children do not fit an n4: the loader must choose an n16, as growth does.
  check_load({{"k", "t"}, {"ka", "1"}, {"kb", "2"}, {"kc", "3"}});
  check_load({{"k", "t"}, {"ka", "1"}, {"kb", "2"}, {"kc", "3"}, {"kd", "4"}});
}

TEST(ArtSortedLoaderTest, EveryFanOutGetsItsKind) {
  // Fan-outs across every kind boundary, under a long shared prefix (longer than any node's inline bytes).
  const std::string stem = "/tenants/acme/services/billing/instances/";
  for (const unsigned fan : {2U, 4U, 5U, 16U, 17U, 32U, 33U, 48U, 49U, 200U, 256U}) {
    model m;
    for (unsigned b = 0; b < fan; ++b) {
      std::string k = stem;
      k += static_cast<char>(256U - fan + b);  // the high bytes: an n256 of 256 uses 0x00 too
      m[k] = std::to_string(b);
      m[k + "/state"] = "s" + std::to_string(b);
    }
    SCOPED_TRACE(fan);
    check_load(m);
  }
}

TEST(ArtSortedLoaderTest, LongKeysAndLongValues) {
  // Prefixes of thousands of bytes (far past any node's inline bytes) and a value of the long leaf form.
  const std::string stem(9990, 'p');
  model m;
  for (int i = 0; i < 40; ++i) m[stem + std::to_string(1000 + i * 7)] = std::string(static_cast<std::size_t>(i), 'v');
  m[stem + "2"] = std::string(70000, 'L');
  m[stem] = "the stem itself";
  check_load(m);
}

TEST(ArtSortedLoaderTest, RandomKeyDistributionsMatchUpserts) {
  rng r(20261128);
  const auto dense = [&](model& m) {
    for (std::uint32_t i = 0; i < 60000; ++i) {
      std::string k(4, '\0');
      for (int b = 0; b < 4; ++b) k[static_cast<std::size_t>(b)] = static_cast<char>((i * 7) >> (24 - 8 * b));
      m[k] = r.bytes(r.below(40));
    }
  };
  const auto sparse = [&](model& m) {
    for (int i = 0; i < 60000; ++i) m[r.bytes(1 + r.below(24))] = r.bytes(r.below(24));
  };
  const auto paths = [&](model& m) {
    for (int i = 0; i < 40000; ++i) {
      m["/workloads/app-" + std::to_string(r.below(3000)) + "/instances/i" + std::to_string(r.below(12)) +
        (r.percent(50) ? "/state" : "")] = r.bytes(r.below(100));
    }
  };
  const auto prefixes = [&](model& m) {
    for (int i = 0; i < 30000; ++i) {
      const std::string k = r.bytes(1 + r.below(6));
      for (std::size_t n = 0; n <= k.size(); ++n) m[k.substr(0, n)] = std::to_string(n);
    }
  };
  model a;
  dense(a);
  check_load(a);
  model b;
  sparse(b);
  check_load(b);
  model c;
  paths(c);
  check_load(c);
  model d;
  prefixes(d);
  check_load(d);
}

TEST(ArtSortedLoaderTest, LoadedTreeTakesWritesAndCopyOnWrite) {
  rng r(7);
  model m;
  for (int i = 0; i < 20000; ++i) m["/k/" + std::to_string(r.below(1000000))] = r.bytes(8);
  tree_fixture f;
  ASSERT_TRUE(load(f, m));
  const model at_freeze = m;
  const frozen_root frozen = f.tree.freeze();
  for (int i = 0; i < 20000; ++i) {
    const std::string k = "/k/" + std::to_string(r.below(1000000));
    if (r.percent(30)) {
      ASSERT_TRUE(del(f.tree, m, k));
    } else {
      ASSERT_TRUE(put(f.tree, m, k, r.bytes(r.below(30))));
    }
  }
  EXPECT_TRUE(matches(f.tree, m));
  EXPECT_TRUE(matches(f.tree, at_freeze, &frozen));
}

TEST(ArtSortedLoaderTest, KeysOutOfOrderAreRefusedAndFreeEverything) {
  for (const std::string second : {"a", "0"}) {  // a duplicate, then a smaller key
    tree_fixture f;
    {
      loader l(f.tree);
      ASSERT_TRUE(l.add(kv(std::string("a")), kv(std::string("1"))).has_value());
      ASSERT_TRUE(l.add(kv(std::string("ab")), kv(std::string("2"))).has_value());
      ASSERT_TRUE(l.add(kv(std::string("b")), kv(std::string("3"))).has_value());
      const auto bad = l.add(kv(second), kv(std::string("x")));
      ASSERT_FALSE(bad.has_value());
      EXPECT_EQ(bad.error().code(), errc::invalid_argument);
      EXPECT_NE(bad.error().message().find("not after"), std::string_view::npos) << bad.error().to_string();
      EXPECT_FALSE(l.add(kv(std::string("c")), kv(std::string("4"))).has_value()) << "a failed load takes no more";
      EXPECT_FALSE(l.finish().has_value());
    }
    EXPECT_TRUE(matches(f.tree, {}));
    EXPECT_EQ(f.region->usage().live_bytes, 0U);
    EXPECT_EQ(f.tree.leaf_bytes(), 0U);
  }
}

TEST(ArtSortedLoaderTest, AbandonedLoadFreesEverything) {
  tree_fixture f;
  {
    loader l(f.tree);
    for (int i = 0; i < 5000; ++i) {
      const std::string k = "/p/" + std::to_string(100000 + i);
      ASSERT_TRUE(l.add(kv(k), kv(k)).has_value());
    }
  }  // never finished
  EXPECT_TRUE(f.tree.root().is_empty());
  EXPECT_EQ(f.region->usage().live_bytes, 0U);
}

TEST(ArtSortedLoaderTest, FullRegionFailsWithNoSpaceAndFreesEverything) {
  tree_fixture f(std::size_t{4} << 20);
  std::size_t added = 0;
  result<void> failure;
  {
    loader l(f.tree);
    for (int i = 0; i < 1000000 && failure; ++i) {
      char k[16];
      std::snprintf(k, sizeof k, "/k/%09d", i);
      failure = l.add(kv(std::string(k)), kv(std::string(40, 'v')));
      if (failure) ++added;
    }
    ASSERT_FALSE(failure.has_value()) << "4 MiB never held a million entries";
    EXPECT_EQ(failure.error().code(), errc::no_space) << failure.error().to_string();
    EXPECT_GT(added, 1000U);
  }
  EXPECT_TRUE(matches(f.tree, {}));
  EXPECT_EQ(f.region->usage().live_bytes, 0U);
  // The space is back: the same region loads a smaller set.
  model m;
  for (int i = 0; i < 1000; ++i) m["/k/" + std::to_string(i)] = std::string(40, 'v');
  ASSERT_TRUE(load(f, m));
  EXPECT_TRUE(matches(f.tree, m));
}

}  // namespace
}  // namespace tessel::index::test
