// The art cursor: the empty tree, both ends (prev from the first key and next from the last one end the
// walk), seeks past the end and before the beginning, seek_for_prev, and lower-bound semantics where a seek
// key leaves a compressed prefix (below it, above it, or ending inside it).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

namespace tessel::index::test {
namespace {

TEST(ArtEmptyTreeTest, HasNothingAndVerifies) {
  tree_fixture f;
  EXPECT_EQ(f.tree.size(), 0u);
  EXPECT_TRUE(f.tree.verify().has_value());
  const tree_stats s = f.tree.stats();
  EXPECT_EQ(s.leaves + s.n4 + s.n16 + s.n32 + s.n48 + s.n256, 0u);
  EXPECT_FALSE(f.tree.find(kv("")).has_value());
  EXPECT_FALSE(f.tree.find(kv("a")).has_value());
  const auto erased = f.tree.erase(kv("a"));
  ASSERT_TRUE(erased.has_value());
  EXPECT_FALSE(*erased);
  const auto erased_empty = f.tree.erase(kv(""));
  ASSERT_TRUE(erased_empty.has_value());
  EXPECT_FALSE(*erased_empty);
}

TEST(ArtEmptyTreeTest, EveryCursorPositionIsInvalid) {
  tree_fixture f;
  auto c = f.tree.cursor();
  EXPECT_FALSE(c.valid()) << "a new cursor is not positioned";
  c.seek_to_first();
  EXPECT_FALSE(c.valid());
  c.seek_to_last();
  EXPECT_FALSE(c.valid());
  for (const std::string& k : {std::string(), std::string("a"), std::string("\xff\xff")}) {
    c.seek(kv(k));
    EXPECT_FALSE(c.valid());
    c.seek_for_prev(kv(k));
    EXPECT_FALSE(c.valid());
  }
}

TEST(ArtEmptyTreeTest, EmptyAgainAfterErasingEverything) {
  tree_fixture f;
  model m;
  for (const char* k : {"a", "b", "c"}) ASSERT_TRUE(put(f.tree, m, k, k));
  for (const char* k : {"b", "a", "c"}) ASSERT_TRUE(del(f.tree, m, k));
  EXPECT_TRUE(matches(f.tree, m));
  auto c = f.tree.cursor();
  c.seek_to_first();
  EXPECT_FALSE(c.valid());
  c.seek_to_last();
  EXPECT_FALSE(c.valid());
}

class ArtCursorEndsTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ArtCursorEndsTest, WalkingOffEitherEndInvalidates) {
  tree_fixture f;
  model m;
  for (std::size_t i = 0; i < GetParam(); ++i) ASSERT_TRUE(put(f.tree, m, "k" + std::to_string(i * 7919 % 1000), "v"));
  auto c = f.tree.cursor();
  c.seek_to_first();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), m.begin()->first);
  c.prev();
  EXPECT_FALSE(c.valid()) << "prev from the first key";

  c.seek_to_last();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), m.rbegin()->first);
  c.next();
  EXPECT_FALSE(c.valid()) << "next from the last key";

  // A cursor that fell off an end is positioned again by any seek.
  c.seek(kv(m.begin()->first));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), m.begin()->first);
  EXPECT_TRUE(iterates(f.tree, m));
}

TEST_P(ArtCursorEndsTest, DirectionChangesRetraceTheSameKeys) {
  tree_fixture f;
  model m;
  for (std::size_t i = 0; i < GetParam(); ++i) ASSERT_TRUE(put(f.tree, m, "k" + std::to_string(i * 7919 % 1000), "v"));
  auto c = f.tree.cursor();
  auto it = m.begin();
  c.seek_to_first();
  // next, next, prev, next, next, prev ... across the whole tree.
  for (std::size_t step = 0; it != m.end(); ++step) {
    ASSERT_TRUE(cursor_at(c, m, it) << " at step " << step);
    if (step % 3 == 2 && it != m.begin()) {
      c.prev();
      --it;
    } else {
      c.next();
      ++it;
    }
  }
  EXPECT_FALSE(c.valid());
}

INSTANTIATE_TEST_SUITE_P(Sizes, ArtCursorEndsTest, ::testing::Values(1, 2, 5, 17, 49, 300));

TEST(ArtSeekTest, PastTheEndAndBeforeTheBeginning) {
  tree_fixture f;
  model m;
  for (const char* k : {"b", "bb", "c", "d\x01"}) ASSERT_TRUE(put(f.tree, m, k, k));
  auto c = f.tree.cursor();
  for (const std::string& past :
       {std::string("d\x02"), std::string("e"), std::string("\xff"), std::string("d\x01\x00x", 4)}) {
    c.seek(kv(past));
    EXPECT_FALSE(c.valid()) << show(past);
    c.seek_for_prev(kv(past));
    ASSERT_TRUE(c.valid());
    EXPECT_EQ(str(c.key()), "d\x01");
  }
  for (const char* before : {"", "a", "a\xff\xff", "\x01"}) {
    c.seek(kv(before));
    ASSERT_TRUE(c.valid());
    EXPECT_EQ(str(c.key()), "b");
    c.seek_for_prev(kv(before));
    EXPECT_FALSE(c.valid()) << show(std::string(before));
  }
}

TEST(ArtSeekTest, ExactHitsAndNeighbours) {
  tree_fixture f;
  model m;
  for (const char* k : {"apple", "apples", "apply", "banana"}) ASSERT_TRUE(put(f.tree, m, k, k));
  auto c = f.tree.cursor();
  c.seek(kv("apples"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "apples");
  c.seek_for_prev(kv("apples"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "apples");
  c.seek(kv("applf"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "apply");
  c.seek_for_prev(kv("applf"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "apples");
  c.seek(kv("applesauce"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "apply");
  c.seek_for_prev(kv("applesauce"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "apples");
}

TEST(ArtSeekTest, KeysLeavingACompressedPrefix) {
  tree_fixture f;
  model m;
  // An inner node with prefix "refix-" below byte 'p', between the leaves "a" and "z".
  for (const char* k : {"a", "prefix-1", "prefix-2", "prefix-3", "z"}) ASSERT_TRUE(put(f.tree, m, k, k));
  struct expectation {
    const char* seek;
    const char* at_or_after;   // nullptr: invalid
    const char* at_or_before;  // nullptr: invalid
  };
  const expectation cases[] = {
      {"p", "prefix-1", "a"},         // ends at the node's byte
      {"pre", "prefix-1", "a"},       // ends inside the prefix
      {"prefix-", "prefix-1", "a"},   // ends exactly at the prefix end
      {"preA", "prefix-1", "a"},      // leaves the prefix below it
      {"prez", "z", "prefix-3"},      // leaves the prefix above it
      {"prefix-0", "prefix-1", "a"},  // below every child
      {"prefix-4", "z", "prefix-3"},  // above every child
      {"prefix-1\x01", "prefix-2", "prefix-1"},
      {"prefix.", "z", "prefix-3"},  // last prefix byte raised
      {"prefix,", "prefix-1", "a"},  // last prefix byte lowered
      {"o\xff", "prefix-1", "a"},
      {"q", "z", "prefix-3"},
      {"", "a", nullptr},
      {"zz", nullptr, "z"},
  };
  auto c = f.tree.cursor();
  for (const expectation& e : cases) {
    SCOPED_TRACE(e.seek);
    c.seek(kv(e.seek));
    if (e.at_or_after == nullptr) {
      EXPECT_FALSE(c.valid());
    } else {
      ASSERT_TRUE(c.valid());
      EXPECT_EQ(str(c.key()), e.at_or_after);
    }
    c.seek_for_prev(kv(e.seek));
    if (e.at_or_before == nullptr) {
      EXPECT_FALSE(c.valid());
    } else {
      ASSERT_TRUE(c.valid());
      EXPECT_EQ(str(c.key()), e.at_or_before);
    }
    EXPECT_TRUE(seeks(f.tree, m, e.seek));
  }
}

TEST(ArtSeekTest, PrefixAtTheRootWithNothingOutside) {
  tree_fixture f;
  model m;
  // The root itself has prefix "common/"; seeks that leave it must give first/none or none/last.
  for (const char* k : {"common/a", "common/b", "common/c/d", "common/c/e"}) ASSERT_TRUE(put(f.tree, m, k, k));
  for (const char* k : {"", "c", "common", "common/", "commoo", "common.", "commom", "common/c", "common/c/",
                        "common/c/f", "common/d", "d", "\xff"}) {
    EXPECT_TRUE(seeks(f.tree, m, k));
  }
}

TEST(ArtSeekTest, LongPrefixBoundaries) {
  // Seeks that leave a 300-byte compressed prefix at every position, above and below.
  tree_fixture f;
  model m;
  const std::string run(300, 'r');
  for (const std::string& k : {run + "1", run + "2", run + "3/x", run + "3/y", std::string("q"), std::string("s")}) {
    ASSERT_TRUE(put(f.tree, m, k, k));
  }
  for (std::size_t i = 0; i <= run.size(); ++i) {
    const std::string head = run.substr(0, i);
    for (const std::string& p : {head, head + "q", head + "s", head + "q\xff", head + '\0'}) {
      ASSERT_TRUE(seeks(f.tree, m, p)) << "at " << i;
    }
  }
}

TEST(ArtSeekTest, AroundEveryKeyOfMixedShapes) {
  // Nodes of every kind, terminals, long and short prefixes together; probe around every key.
  tree_fixture f;
  model m;
  rng r(42);
  for (unsigned b = 0; b < 256; b += 3) ASSERT_TRUE(put(f.tree, m, std::string("w") + static_cast<char>(b), "w"));
  for (unsigned b = 0; b < 30; ++b) ASSERT_TRUE(put(f.tree, m, "m" + std::string(1, static_cast<char>(b * 8)), "m"));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(put(f.tree, m, "s" + std::to_string(i * 13), "s"));
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(put(f.tree, m, "/p/" + std::string(20, 'x') + r.bytes(1 + r.below(6)), "p"));
  for (const char* k : {"", "m", "s", "s1", "s13", "/p/"}) ASSERT_TRUE(put(f.tree, m, k, "t"));
  ASSERT_TRUE(matches(f.tree, m));
  std::size_t probed = 0;
  for (const auto& [k, v] : m) {
    for (const std::string& p : probes_around(k, 8)) {
      ASSERT_TRUE(seeks(f.tree, m, p));
      ++probed;
    }
  }
  EXPECT_GT(probed, 1000u);
}

TEST(ArtSeekTest, SeekForPrevOnAPrefixOfKeysIsTheKeyBeforeThem) {
  tree_fixture f;
  model m;
  for (const char* k : {"a", "ab/1", "ab/2"}) ASSERT_TRUE(put(f.tree, m, k, k));
  auto c = f.tree.cursor();
  c.seek_for_prev(kv("ab"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "a");
  c.seek_for_prev(kv("ab/"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "a");
  c.seek_for_prev(kv("ab/1"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "ab/1");
  c.seek_for_prev(kv("ab/10"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "ab/1");
}

/// The keys a cursor visits from its position until it becomes invalid (at most `cap`).
std::vector<std::string> walk_forward(art_cursor<mmap::mapped_region>& c, std::size_t cap = 1000) {
  std::vector<std::string> seen;
  for (; c.valid() && seen.size() < cap; c.next()) seen.push_back(str(c.key()));
  return seen;
}

TEST(ArtSeekWithinTest, EndsAfterTheLastKeyOfItsScope) {
  tree_fixture f;
  model m;
  for (const char* k : {"a", "ab", "ab/1", "ab/2", "ab/3/x", "abc", "b"}) ASSERT_TRUE(put(f.tree, m, k, k));
  auto c = f.tree.cursor();
  using keys = std::vector<std::string>;
  c.seek_within(kv("ab"), 2);  // the scope's first key is a terminal
  EXPECT_EQ(walk_forward(c), (keys{"ab", "ab/1", "ab/2", "ab/3/x", "abc"}));
  c.seek_within(kv("ab/2"), 3);  // starts inside the scope "ab/"
  EXPECT_EQ(walk_forward(c), (keys{"ab/2", "ab/3/x"}));
  c.seek_within(kv("ab/4"), 3);  // keys follow ("abc", "b"), none in the scope
  EXPECT_FALSE(c.valid());
  c.seek_within(kv("zz"), 1);
  EXPECT_FALSE(c.valid());
  c.seek_within(kv("0"), 1);  // lower than every key, and none starts with "0"
  EXPECT_FALSE(c.valid());
  c.seek_within(kv("ab/3/x"), 6);  // the scope is one leaf
  EXPECT_EQ(walk_forward(c), (keys{"ab/3/x"}));
  c.seek_within(kv(""), 0);
  EXPECT_EQ(walk_forward(c).size(), m.size());
  // prev() leaves the scope: it is a plain cursor step, and so are the steps after it, before or after the
  // scout started.
  c.seek_within(kv("ab/1"), 3);
  c.prev();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "ab");
  EXPECT_EQ(walk_forward(c), (keys{"ab", "ab/1", "ab/2", "ab/3/x", "abc", "b"}));
  c.seek_within(kv("ab/1"), 3);
  c.next();
  c.prev();
  EXPECT_EQ(walk_forward(c), (keys{"ab/1", "ab/2", "ab/3/x", "abc", "b"}));
  // A plain seek afterwards is not scoped.
  c.seek(kv("abc"));
  EXPECT_EQ(walk_forward(c), (keys{"abc", "b"}));
}

// Scopes that end inside dense nodes, at compressed prefixes and between n4s below n256s: the cursor itself
// must stop after the scope's last key (prefix_scan_matches checks that), for scopes of 0 to 4 bytes.
TEST(ArtSeekWithinTest, MatchesTheModelInALargeTree) {
  tree_fixture f;
  model m;
  rng r(91);
  for (int i = 0; i < 30000; ++i) ASSERT_TRUE(put(f.tree, m, r.bytes(1 + r.below(6)), "v"));
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(put(f.tree, m, "/p/" + std::to_string(r.below(5000)), "p"));
  for (int i = 0; i < 400; ++i) {
    const std::string prefix = i % 4 == 0 ? "/p/" + std::to_string(r.below(60)) : r.bytes(r.below(4));
    ASSERT_TRUE(prefix_scan_matches(f.tree, m, prefix));
    const std::string start = prefix + r.bytes(r.below(3));
    ASSERT_TRUE(range_scan_matches(f.tree, m, start, prefix + r.bytes(1 + r.below(3))));
  }
}

// seek_range stops its look-ahead at subtrees past the end: ends that leave a node between its children, end
// inside or after a compressed prefix (short ones, compared inline, and 300-byte ones, which are not), are a
// prefix of keys, or equal a terminal must never end the cursor before the last key below the end.
TEST(ArtSeekRangeTest, EveryKeyBelowTheEndIsVisited) {
  tree_fixture f;
  model m;
  rng r(23);
  const std::string run(300, 'r');
  for (const std::string& k : {run + "1", run + "2", run + "3/x", run + "3/y", run, std::string("q"), std::string("s"),
                               std::string("ab"), std::string("ab/1"), std::string("ab/12"), std::string("abc")}) {
    ASSERT_TRUE(put(f.tree, m, k, k));
  }
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(put(f.tree, m, r.bytes(1 + r.below(4)), "v"));
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(put(f.tree, m, "/p/" + std::string(12, 'x') + r.bytes(1 + r.below(3)), "p"));
  std::vector<std::string> probes;
  for (const auto& [k, v] : m) {
    if (r.percent(5)) {
      for (std::string& p : probes_around(k, 6)) probes.push_back(std::move(p));
    }
  }
  for (std::size_t i = 0; i <= run.size(); i += 37) probes.push_back(run.substr(0, i) + "2");
  std::size_t ranges = 0;
  for (const std::string& start : probes) {
    for (int j = 0; j < 4; ++j) {
      const std::string& end = probes[r.below(probes.size())];
      ASSERT_TRUE(range_scan_matches(f.tree, m, start, end));
      ++ranges;
    }
  }
  EXPECT_GT(ranges, 2000u);
}

// The scout steps through a node's children by index where the kind keeps them in key order (n4, n16, n32,
// n256) and by key byte in an n48, and turns a bounded node's end byte into a limit once per node. Nodes of
// every kind, each with a terminal and with inner children among its leaves, scanned from and to every child
// byte and its neighbours, and started from a main_ position (a prev() before next()) as well as a seek.
TEST(ArtSeekRangeTest, BoundsInsideEveryNodeKind) {
  tree_fixture f;
  model m;
  std::vector<std::string> bounds;
  for (const unsigned children : {3U, 12U, 30U, 45U, 200U}) {
    const std::string node = "k" + std::to_string(children);
    ASSERT_TRUE(put(f.tree, m, node, "terminal"));
    for (unsigned i = 0; i < children; ++i) {
      const std::string child = node + static_cast<char>(i * 251U / children + 2U);
      ASSERT_TRUE(put(f.tree, m, child, "leaf"));
      if (i % 5 == 1) {
        ASSERT_TRUE(put(f.tree, m, child + "/below", "inner"));  // the child becomes an n4
      }
      for (const unsigned d : {1U, 2U, 3U}) bounds.push_back(node + static_cast<char>(i * 251U / children + d));
    }
    bounds.push_back(node);
    bounds.push_back(node + '\0');
    bounds.push_back(node + '\xff');
  }
  const tree_stats s = f.tree.stats();
  ASSERT_GT(s.n4, 0u);
  ASSERT_GT(s.n16, 0u);
  ASSERT_GT(s.n32, 0u);
  ASSERT_GT(s.n48, 0u);
  ASSERT_GT(s.n256, 0u);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    for (std::size_t j = i; j < bounds.size(); j += 1 + j % 3)
      ASSERT_TRUE(range_scan_matches(f.tree, m, bounds[i], bounds[j]));
    ASSERT_TRUE(prefix_scan_matches(f.tree, m, bounds[i]));
  }
  // A forward walk that starts from main_'s stack after a step back: the scout takes over main_'s positions.
  auto c = f.tree.cursor();
  for (auto it = m.begin(); it != m.end(); ++it) {
    c.seek(kv(it->first));
    c.prev();
    if (it == m.begin()) {
      EXPECT_FALSE(c.valid());
      continue;
    }
    c.next();
    ASSERT_TRUE(cursor_at(c, m, it));
    c.next();
    const auto after = std::next(it);
    if (after == m.end()) {
      EXPECT_FALSE(c.valid());
    } else {
      ASSERT_TRUE(cursor_at(c, m, after));
    }
  }
}

// Forward steps are served from the scout's ring of upcoming leaves and backward steps from a rebuilt stack;
// a random walk switching between them in a large tree (full rings, dense nodes, n4s below n256s) must
// visit exactly the keys a std::map iterator does.
TEST(ArtCursorWalkTest, RandomNextPrevWalkMatchesTheModel) {
  tree_fixture f;
  model m;
  rng r(77);
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(put(f.tree, m, r.bytes(1 + r.below(6)), "v"));
  for (int walk = 0; walk < 20; ++walk) {
    const std::string start = r.bytes(1 + r.below(3));
    auto c = f.tree.cursor();
    c.seek(kv(start));
    auto it = m.lower_bound(start);
    for (int step = 0; step < 2000 && it != m.end(); ++step) {
      ASSERT_TRUE(cursor_at(c, m, it) << " walk " << walk << " step " << step);
      // Runs of forward steps longer than the ring, then a few backward ones.
      if (r.percent(20) && it != m.begin()) {
        c.prev();
        --it;
      } else {
        c.next();
        ++it;
      }
    }
    if (it == m.end()) {
      EXPECT_FALSE(c.valid());
    }
  }
}

}  // namespace
}  // namespace tessel::index::test
