// Node kinds of the art: every growth (n4->n16 at the 5th child, or the 4th when the n4 holds a terminal,
// n16->n32 at the 17th, n32->n48 at the 33rd, n48->n256 at the 49th) and every shrink (n256->n48 at 37 children,
// n48->n32 at 24, n32->n16 at 12, n16->n4 at 3), with their hysteresis, and the collapse of a node left with one entry
// into that entry (merging compressed paths). Each step is checked through stats(), verify(), find() of every key and
// iteration both ways. Capacities and thresholds come from index/node_layout.hpp.
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

namespace tessel::index::test {
namespace {

/// Where the node under test sits: below `prefix` (its keys are prefix + one byte), with or without a
/// terminal (the key `prefix` itself), with or without a sibling key that gives the tree a root above it.
struct node_shape {
  const char* name;
  std::string prefix;
  bool terminal;
  std::string sibling;  // empty: none
};

std::ostream& operator<<(std::ostream& os, const node_shape& s) { return os << s.name; }

/// Which kind the node under test should be, following the thresholds of node_layout.hpp and their
/// hysteresis: grow when the children exceed the kind's capacity, shrink when they drop to its threshold.
class kind_model {
 public:
  /// After an insert (grown) or an erase (!grown) leaves `children` byte children and `terminal`.
  void after(unsigned children, bool terminal, bool grown) {
    if (children + (terminal ? 1U : 0U) < 2) {
      exists_ = false;  // collapsed into its one entry, or gone
      return;
    }
    if (!exists_) {
      exists_ = true;
      kind_ = node_kind::n4;
    }
    if (grown) {
      // An n4 with a terminal keeps it in its last child slot, so it holds one child fewer.
      if (kind_ == node_kind::n4 && children > (terminal ? node4::terminal_slot : node4::capacity)) {
        kind_ = node_kind::n16;
      }
      if (kind_ == node_kind::n16 && children > node16::capacity) kind_ = node_kind::n32;
      if (kind_ == node_kind::n32 && children > node32::capacity) kind_ = node_kind::n48;
      if (kind_ == node_kind::n48 && children > node48::capacity) kind_ = node_kind::n256;
    } else {
      if (kind_ == node_kind::n256 && children <= n256_shrink_at) kind_ = node_kind::n48;
      if (kind_ == node_kind::n48 && children <= n48_shrink_at) kind_ = node_kind::n32;
      if (kind_ == node_kind::n32 && children <= n32_shrink_at) kind_ = node_kind::n16;
      if (kind_ == node_kind::n16 && children <= n16_shrink_at) kind_ = node_kind::n4;
    }
  }
  [[nodiscard]] bool exists() const noexcept { return exists_; }
  [[nodiscard]] node_kind kind() const noexcept { return kind_; }

 private:
  bool exists_ = false;
  node_kind kind_ = node_kind::n4;
};

::testing::AssertionResult stats_are(const tree_stats& got, const tree_stats& want) {
  if (got.leaves == want.leaves && got.n4 == want.n4 && got.n16 == want.n16 && got.n32 == want.n32 &&
      got.n48 == want.n48 && got.n256 == want.n256) {
    return ::testing::AssertionSuccess();
  }
  const auto fmt = [](const tree_stats& s) {
    return "{leaves " + std::to_string(s.leaves) + ", n4 " + std::to_string(s.n4) + ", n16 " + std::to_string(s.n16) +
           ", n32 " + std::to_string(s.n32) + ", n48 " + std::to_string(s.n48) + ", n256 " + std::to_string(s.n256) +
           "}";
  };
  return ::testing::AssertionFailure() << "stats " << fmt(got) << ", expected " << fmt(want);
}

class ArtNodeTransitionTest : public ::testing::TestWithParam<node_shape> {
 protected:
  [[nodiscard]] tree_stats expected() const {
    const node_shape& s = GetParam();
    tree_stats want;
    const unsigned children = static_cast<unsigned>(present_.size());
    want.leaves = children + (s.terminal ? 1U : 0U) + (s.sibling.empty() ? 0U : 1U);
    if (kinds_.exists()) {
      switch (kinds_.kind()) {
        case node_kind::n4: ++want.n4; break;
        case node_kind::n16: ++want.n16; break;
        case node_kind::n32: ++want.n32; break;
        case node_kind::n48: ++want.n48; break;
        default: ++want.n256; break;
      }
    }
    // The sibling's root sits above the node's subtree while that subtree holds anything.
    if (!s.sibling.empty() && children + (s.terminal ? 1U : 0U) > 0) ++want.n4;
    return want;
  }

  [[nodiscard]] std::string key_for(unsigned byte) const { return GetParam().prefix + static_cast<char>(byte); }

  /// Adds or removes one random child byte until the node has `target` children, checking every step.
  void move_to(unsigned target) {
    const node_shape& s = GetParam();
    while (present_.size() != target) {
      const bool grow = present_.size() < target;
      if (grow) {
        std::vector<unsigned> absent;
        for (unsigned b = 0; b < 256; ++b) {
          if (present_.count(b) == 0) absent.push_back(b);
        }
        const unsigned b = absent[random_.below(absent.size())];
        ASSERT_TRUE(put(f_.tree, model_, key_for(b), "v" + std::to_string(b)));
        present_.insert(b);
      } else {
        auto it = present_.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(random_.below(present_.size())));
        ASSERT_TRUE(del(f_.tree, model_, key_for(*it)));
        present_.erase(it);
      }
      const auto before = kinds_.kind();
      const bool existed = kinds_.exists();
      kinds_.after(static_cast<unsigned>(present_.size()), s.terminal, grow);
      SCOPED_TRACE("children " + std::to_string(present_.size()) + (grow ? " after insert" : " after erase"));
      ASSERT_TRUE(stats_are(f_.tree.stats(), expected()));
      ASSERT_TRUE(matches(f_.tree, model_));
      if (kinds_.kind() != before || kinds_.exists() != existed) probe_every_byte();
    }
  }

  /// Seeks on every side of every child byte: where the node just changed kind, its ordered walks
  /// (n16 compare, n48 index, n256 slots) must still agree with the model.
  void probe_every_byte() {
    const std::string& p = GetParam().prefix;
    ASSERT_TRUE(seeks(f_.tree, model_, p));
    for (unsigned b = 0; b < 256; ++b) {
      ASSERT_TRUE(seeks(f_.tree, model_, key_for(b)));
      ASSERT_TRUE(seeks(f_.tree, model_, key_for(b) + '\0'));
    }
    if (!p.empty()) {
      ASSERT_TRUE(seeks(f_.tree, model_, p.substr(0, p.size() - 1)));
      ASSERT_TRUE(seeks(f_.tree, model_, p.substr(0, p.size() - 1) + '\xff'));
    }
  }

  void SetUp() override {
    const node_shape& s = GetParam();
    if (!s.sibling.empty()) {
      ASSERT_TRUE(put(f_.tree, model_, s.sibling, "sibling"));
    }
    if (s.terminal) {
      ASSERT_TRUE(put(f_.tree, model_, s.prefix, "terminal"));
    }
    ASSERT_TRUE(stats_are(f_.tree.stats(), expected()));
  }

  tree_fixture f_;
  model model_;
  std::set<unsigned> present_;
  kind_model kinds_;
  rng random_{0xA27'0001};
};

TEST_P(ArtNodeTransitionTest, GrowsAndShrinksThroughEveryKind) {
  // Up to a full n256 and down to nothing, in random byte order.
  for (const unsigned target : {256U, 0U}) {
    ASSERT_NO_FATAL_FAILURE(move_to(target));
  }
}

TEST_P(ArtNodeTransitionTest, ThresholdsHaveHysteresis) {
  // Each boundary approached from the side that must not flip yet, then crossed, in both directions.
  const unsigned targets[] = {60,
                              n256_shrink_at + 1,
                              n256_shrink_at,
                              node48::capacity,
                              node48::capacity + 1,
                              n256_shrink_at,
                              n48_shrink_at + 1,
                              n48_shrink_at,
                              node32::capacity,
                              node32::capacity + 1,
                              n48_shrink_at - 1,
                              n32_shrink_at + 1,
                              n32_shrink_at,
                              node16::capacity,
                              node16::capacity + 1,
                              n32_shrink_at - 1,
                              n16_shrink_at + 1,
                              n16_shrink_at,
                              node4::capacity,
                              node4::capacity + 1,
                              n16_shrink_at,
                              2,
                              1,
                              0,
                              2,
                              1,
                              5,
                              0};
  for (const unsigned target : targets) {
    ASSERT_NO_FATAL_FAILURE(move_to(target));
  }
}

TEST_P(ArtNodeTransitionTest, ExactBoundaries) {
  // Walk each boundary one child at a time and name the kind expected, independent of kind_model.
  const auto kind_now = [this] {
    const tree_stats s = f_.tree.stats();
    const std::size_t root = GetParam().sibling.empty() ? 0 : 1;
    if (s.n256 == 1) return node_kind::n256;
    if (s.n48 == 1) return node_kind::n48;
    if (s.n32 == 1) return node_kind::n32;
    if (s.n16 == 1) return node_kind::n16;
    return s.n4 == root + 1 ? node_kind::n4 : node_kind::empty;
  };
  // An n4 with a terminal holds three children (the terminal takes the fourth slot).
  const unsigned n4_max = GetParam().terminal ? 3 : 4;
  const struct {
    unsigned children;
    node_kind kind;
  } steps[] = {
      {n4_max, node_kind::n4}, {n4_max + 1, node_kind::n16}, {16, node_kind::n16}, {17, node_kind::n32},
      {32, node_kind::n32},    {33, node_kind::n48},         {48, node_kind::n48}, {49, node_kind::n256},
      {38, node_kind::n256},   {37, node_kind::n48},         {25, node_kind::n48}, {24, node_kind::n32},
      {13, node_kind::n32},    {12, node_kind::n16},         {4, node_kind::n16},  {3, node_kind::n4},
      {2, node_kind::n4},
  };
  for (const auto& step : steps) {
    ASSERT_NO_FATAL_FAILURE(move_to(step.children));
    EXPECT_EQ(static_cast<int>(kind_now()), static_cast<int>(step.kind)) << "at " << step.children << " children";
  }
  ASSERT_NO_FATAL_FAILURE(move_to(1));
  EXPECT_EQ(static_cast<int>(kind_now()), static_cast<int>(GetParam().terminal ? node_kind::n4 : node_kind::empty))
      << "one child left";
}

const std::string long_run(40, 'x');

INSTANTIATE_TEST_SUITE_P(
    Shapes, ArtNodeTransitionTest,
    ::testing::Values(node_shape{"Root", "", false, ""}, node_shape{"RootWithEmptyKeyTerminal", "", true, ""},
                      node_shape{"RootWithPrefix", "p/", false, ""},
                      node_shape{"RootWithPrefixAndTerminal", "p/", true, ""},
                      node_shape{"BelowARoot", "p/", false, "q"}, node_shape{"BelowARootWithTerminal", "p/", true, "q"},
                      node_shape{"LongPrefixBelowARoot", "long/" + long_run + "/", false,
                                 "long/" + long_run.substr(0, 20) + "y"},
                      node_shape{"LongPrefixWithTerminal", "long/" + long_run + "/", true, ""}),
    [](const ::testing::TestParamInfo<node_shape>& shape) { return std::string(shape.param.name); });

// ---- Collapse: a node left with one entry becomes that entry ---------------------------------------------

TEST(ArtCollapseTest, LoneKeyIsALeafWithNoInnerNode) {
  tree_fixture f;
  model m;
  ASSERT_TRUE(put(f.tree, m, "only", "1"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 1}));
  EXPECT_TRUE(matches(f.tree, m));
  ASSERT_TRUE(put(f.tree, m, "other", "2"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 2, .n4 = 1}));
  ASSERT_TRUE(del(f.tree, m, "only"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 1}));
  EXPECT_TRUE(matches(f.tree, m));
  ASSERT_TRUE(del(f.tree, m, "other"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {}));
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtCollapseTest, RootWithOneChildMergesIntoThatChild) {
  tree_fixture f;
  model m;
  // root (prefix "a/") -> 'x' -> node (prefix "/") -> '1', '2'; 'y' -> leaf
  for (const char* k : {"a/x/1", "a/x/2", "a/y"}) ASSERT_TRUE(put(f.tree, m, k, k));
  ASSERT_TRUE(stats_are(f.tree.stats(), {.leaves = 3, .n4 = 2}));
  ASSERT_TRUE(del(f.tree, m, "a/y"));
  // The child absorbs "a/" + 'x' + "/" as its prefix.
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 2, .n4 = 1}));
  EXPECT_TRUE(matches(f.tree, m));
  for (const char* k : {"", "a", "a/", "a/x", "a/x/", "a/x/0", "a/x/1", "a/x/15", "a/x/3", "a/w", "a/y", "b"}) {
    EXPECT_TRUE(seeks(f.tree, m, k));
    EXPECT_TRUE(finds(f.tree, m, k));
  }
  ASSERT_TRUE(del(f.tree, m, "a/x/1"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 1}));
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtCollapseTest, InnerNodeWithOneChildMergesIntoItsParentSlot) {
  tree_fixture f;
  model m;
  // root -> 'a' -> node(prefix "bc") -> 'd' -> node(prefix "ef") -> '1','2'; 'x' -> leaf; root -> 'z' leaf
  for (const char* k : {"abcdef1", "abcdef2", "abcx", "z"}) ASSERT_TRUE(put(f.tree, m, k, k));
  ASSERT_TRUE(stats_are(f.tree.stats(), {.leaves = 4, .n4 = 3}));
  ASSERT_TRUE(del(f.tree, m, "abcx"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 3, .n4 = 2}));
  EXPECT_TRUE(matches(f.tree, m));
  for (const auto& k : {"abc", "abcd", "abcde", "abcdef", "abcdef0", "abcdef3", "abcdeg", "abcdee", "abd", "abb"}) {
    EXPECT_TRUE(seeks(f.tree, m, k));
    EXPECT_TRUE(finds(f.tree, m, k));
  }
}

TEST(ArtCollapseTest, MergedPrefixLongerThanTheInlineBytes) {
  tree_fixture f;
  model m;
  const std::string a6(6, 'A');
  const std::string b20(20, 'B');
  // root (prefix AAAAAA) -> '1' -> node (prefix B*20) -> 'x','y'; '2' -> leaf. Erasing the leaf merges
  // 6 + 1 + 20 = 27 prefix bytes, far past the inline 4 (n4) or 8 bytes.
  for (const std::string& k : {a6 + "1" + b20 + "x", a6 + "1" + b20 + "y", a6 + "2"}) ASSERT_TRUE(put(f.tree, m, k, k));
  ASSERT_TRUE(del(f.tree, m, a6 + "2"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 2, .n4 = 1}));
  EXPECT_TRUE(matches(f.tree, m));
  // Keys that agree with the inline bytes and differ later must miss, and seek to the right side.
  std::vector<std::string> probes;
  for (const std::string& k : {a6 + "1" + b20 + "x", a6 + "2"}) {
    for (std::string& p : probes_around(k)) probes.push_back(std::move(p));
  }
  std::string deep = a6 + "1" + b20 + "x";
  deep[20] = 'C';
  probes.push_back(deep);
  deep[20] = 'A';
  probes.push_back(deep);
  for (const std::string& p : probes) {
    EXPECT_TRUE(finds(f.tree, m, p));
    EXPECT_TRUE(seeks(f.tree, m, p));
  }
  // Splitting the merged prefix again, past the inline bytes.
  ASSERT_TRUE(put(f.tree, m, a6 + "1" + b20.substr(0, 15) + "C", "split"));
  EXPECT_TRUE(matches(f.tree, m));
  for (const std::string& p : probes) EXPECT_TRUE(seeks(f.tree, m, p));
}

TEST(ArtTerminalTest, FullN4GainingATerminalGrowsToN16) {
  tree_fixture f;
  model m;
  for (const char* k : {"k0", "k1", "k2", "k3"}) ASSERT_TRUE(put(f.tree, m, k, k));
  ASSERT_TRUE(stats_are(f.tree.stats(), {.leaves = 4, .n4 = 1}));
  ASSERT_TRUE(put(f.tree, m, "k", "terminal"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 5, .n16 = 1}));
  EXPECT_TRUE(matches(f.tree, m));
  // Four children are above the n16 shrink threshold: it stays an n16 without the terminal.
  ASSERT_TRUE(del(f.tree, m, "k"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 4, .n16 = 1}));
  ASSERT_TRUE(del(f.tree, m, "k3"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 3, .n4 = 1}));
  // Three children and a terminal fit an n4.
  ASSERT_TRUE(put(f.tree, m, "k", "terminal"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 4, .n4 = 1}));
  EXPECT_TRUE(matches(f.tree, m));
  for (const char* k : {"", "j", "k", "k0", "k00", "k2", "k3", "l"}) EXPECT_TRUE(seeks(f.tree, m, k));
}

TEST(ArtTerminalTest, N4WithATerminalTakesNoFourthChild) {
  tree_fixture f;
  model m;
  for (const char* k : {"k", "k0", "k1", "k2"}) ASSERT_TRUE(put(f.tree, m, k, k));
  ASSERT_TRUE(stats_are(f.tree.stats(), {.leaves = 4, .n4 = 1}));
  ASSERT_TRUE(put(f.tree, m, "k3", "k3"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 5, .n16 = 1}));
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtCollapseTest, NodeWithOnlyItsTerminalBecomesThatLeaf) {
  tree_fixture f;
  model m;
  ASSERT_TRUE(put(f.tree, m, "/a/b", "short"));
  ASSERT_TRUE(put(f.tree, m, "/a/b/c", "long"));
  ASSERT_TRUE(stats_are(f.tree.stats(), {.leaves = 2, .n4 = 1}));
  ASSERT_TRUE(del(f.tree, m, "/a/b/c"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 1}));
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtCollapseTest, NodeWithOneChildAndNoTerminalBecomesThatChild) {
  tree_fixture f;
  model m;
  ASSERT_TRUE(put(f.tree, m, "/a/b", "short"));
  ASSERT_TRUE(put(f.tree, m, "/a/b/c", "long"));
  ASSERT_TRUE(del(f.tree, m, "/a/b"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 1}));
  EXPECT_TRUE(matches(f.tree, m));
  for (const char* k : {"/a/b", "/a/b/", "/a/b/c", "/a/b/d", "/a/a"}) {
    EXPECT_TRUE(seeks(f.tree, m, k));
    EXPECT_TRUE(finds(f.tree, m, k));
  }
}

TEST(ArtCollapseTest, TerminalPlusInnerChildMergesWithTheChild) {
  tree_fixture f;
  model m;
  // node at "k" holds terminal "k" and child '/' -> node(prefix "sub/") -> 'a','b'. Erasing "k" leaves one
  // inner child, which takes over with prefix "k" + "/" + "sub/".
  for (const char* k : {"k", "k/sub/a", "k/sub/b", "z"}) ASSERT_TRUE(put(f.tree, m, k, k));
  ASSERT_TRUE(del(f.tree, m, "k"));
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 3, .n4 = 2}));
  EXPECT_TRUE(matches(f.tree, m));
  for (const char* k : {"k", "k/", "k/sub", "k/sub/", "k/sub/a", "k/sub/c", "k/suc", "k/sua", "j", "z"}) {
    EXPECT_TRUE(seeks(f.tree, m, k));
    EXPECT_TRUE(finds(f.tree, m, k));
  }
}

TEST(ArtCollapseTest, ShrinkThenCollapseOfAFullNodeDownToOneKey) {
  tree_fixture f;
  model m;
  // A wide node whose children are themselves inner nodes, emptied from the high bytes down.
  for (unsigned b = 0; b < 256; ++b) {
    const std::string head = std::string("w") + static_cast<char>(b);
    ASSERT_TRUE(put(f.tree, m, head + "/1", "a"));
    ASSERT_TRUE(put(f.tree, m, head + "/2", "b"));
  }
  ASSERT_TRUE(stats_are(f.tree.stats(), {.leaves = 512, .n4 = 256, .n256 = 1}));
  for (unsigned b = 255; b >= 1; --b) {
    const std::string head = std::string("w") + static_cast<char>(b);
    ASSERT_TRUE(del(f.tree, m, head + "/1"));
    ASSERT_TRUE(del(f.tree, m, head + "/2"));
    ASSERT_TRUE(matches(f.tree, m)) << "after emptying byte " << b;
  }
  EXPECT_TRUE(stats_are(f.tree.stats(), {.leaves = 2, .n4 = 1}));
  for (const std::string& k : {std::string("w"), std::string("w\x01"), std::string("w\0/", 3), std::string("x")}) {
    EXPECT_TRUE(seeks(f.tree, m, k));
  }
}

}  // namespace
}  // namespace tessel::index::test
