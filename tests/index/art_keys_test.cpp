// Key shapes the art must store without a terminator byte or a length limit of its own: the empty key, keys
// that are prefixes of other keys, keys made of 0x00 bytes, long keys whose shared prefixes run far past a
// node's inline prefix bytes, and unsigned byte order. Values of every header size, and overwrites.
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

namespace tessel::index::test {
namespace {

/// Inserts `keys` in the given order, then erases them in `erase_order`, checking the whole tree and seeks
/// around every key (at up to `positions` places in each) after each step.
void insert_then_erase(const std::vector<std::string>& keys, const std::vector<std::string>& erase_order,
                       std::size_t positions = 16) {
  tree_fixture f;
  model m;
  std::set<std::string> probes;
  for (const std::string& k : keys) {
    for (std::string& p : probes_around(k, positions)) probes.insert(std::move(p));
  }
  const auto check_all = [&](const std::string& step) {
    SCOPED_TRACE(step);
    ASSERT_TRUE(matches(f.tree, m));
    for (const std::string& p : probes) {
      ASSERT_TRUE(finds(f.tree, m, p));
      ASSERT_TRUE(seeks(f.tree, m, p));
    }
  };
  for (const std::string& k : keys) {
    ASSERT_TRUE(put(f.tree, m, k, "value of " + k));
    ASSERT_NO_FATAL_FAILURE(check_all("after inserting " + show(k)));
  }
  for (const std::string& k : erase_order) {
    ASSERT_TRUE(del(f.tree, m, k));
    ASSERT_NO_FATAL_FAILURE(check_all("after erasing " + show(k)));
  }
  EXPECT_EQ(f.tree.size(), 0u);
}

std::vector<std::string> reversed(std::vector<std::string> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

// ---- Prefix keys -----------------------------------------------------------------------------------------

TEST(ArtPrefixKeyTest, PathAndItsChildCoexist) {
  const std::vector<std::string> keys = {"/a/b", "/a/b/c"};
  insert_then_erase(keys, keys);            // shorter erased first
  insert_then_erase(keys, reversed(keys));  // longer erased first
  insert_then_erase(reversed(keys), keys);  // longer inserted first
}

TEST(ArtPrefixKeyTest, TerminalIsDistinctFromAZeroByteChild) {
  // "a" is the terminal of the node at "a"; "a\0" is its child under byte 0x00. "a" < "a\0" < "a\x01".
  const std::vector<std::string> keys = {"a", std::string("a\0", 2), "a\x01", std::string("a\0\0", 3)};
  insert_then_erase(keys, keys);
  insert_then_erase(reversed(keys), keys);
  insert_then_erase(keys, reversed(keys));
}

TEST(ArtPrefixKeyTest, KeyThatIsAPrefixOfTenOthers) {
  std::vector<std::string> keys = {"key"};
  for (char c = '0'; c <= '9'; ++c) keys.push_back(std::string("key") + c + "/tail");
  insert_then_erase(keys, keys);            // the short key goes first: its node keeps ten children
  insert_then_erase(keys, reversed(keys));  // the long keys go first: the node shrinks to a terminal
  insert_then_erase(reversed(keys), keys);
}

TEST(ArtPrefixKeyTest, ChainOfNestedPrefixes) {
  // Every key is a prefix of all the longer ones: every inner node has a terminal and one child.
  std::vector<std::string> keys;
  const std::string full = "abcdefghijklmnopqrstuvwxyz";
  for (std::size_t n = 0; n <= full.size(); ++n) keys.push_back(full.substr(0, n));
  // Fewer probe positions: the keys share their bytes, so probes around one key repeat around the next.
  insert_then_erase(keys, keys, 6);
  insert_then_erase(keys, reversed(keys), 6);
  // Middle out.
  std::vector<std::string> middle_out;
  const std::size_t mid = keys.size() / 2;
  for (std::size_t d = 0; middle_out.size() < keys.size(); ++d) {
    if (mid + d < keys.size()) middle_out.push_back(keys[mid + d]);
    if (d < mid) middle_out.push_back(keys[mid - d - 1]);
  }
  insert_then_erase(middle_out, keys, 6);
}

TEST(ArtPrefixKeyTest, StatsCountATerminalAsALeafOfItsNode) {
  tree_fixture f;
  model m;
  ASSERT_TRUE(put(f.tree, m, "/a/b", "1"));
  ASSERT_TRUE(put(f.tree, m, "/a/b/c", "2"));
  ASSERT_TRUE(put(f.tree, m, "/a/b/d", "3"));
  const tree_stats s = f.tree.stats();
  EXPECT_EQ(s.leaves, 3u);
  EXPECT_EQ(s.n4, 2u);  // the node at "/a/b" (terminal + '/') and the node at "/a/b/" ('c', 'd')
  EXPECT_TRUE(matches(f.tree, m));
}

// ---- The empty key ---------------------------------------------------------------------------------------

TEST(ArtEmptyKeyTest, AloneAndBesideOtherKeys) {
  const std::vector<std::string> keys = {"", "a", "b", std::string(1, '\0'), "\xff"};
  insert_then_erase(keys, keys);
  insert_then_erase(reversed(keys), keys);
  insert_then_erase(keys, reversed(keys));
}

TEST(ArtEmptyKeyTest, SortsFirstAndIsFoundBySeek) {
  tree_fixture f;
  model m;
  ASSERT_TRUE(put(f.tree, m, "x", "1"));
  ASSERT_TRUE(put(f.tree, m, "", "empty"));
  auto c = f.tree.cursor();
  c.seek_to_first();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "");
  EXPECT_EQ(str(c.value()), "empty");
  c.seek(kv(""));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "");
  c.seek_for_prev(kv("w"));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "");
  c.prev();
  EXPECT_FALSE(c.valid());
}

TEST(ArtEmptyKeyTest, EmptyValueUnderEmptyKey) {
  tree_fixture f;
  model m;
  ASSERT_TRUE(put(f.tree, m, "", ""));
  const auto v = f.tree.find(kv(""));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->size(), 0u);
  EXPECT_TRUE(matches(f.tree, m));
}

// ---- 0x00 bytes ------------------------------------------------------------------------------------------

TEST(ArtZeroByteTest, AllZeroKeysOfEveryLength) {
  std::vector<std::string> keys;
  for (std::size_t n = 0; n <= 12; ++n) keys.push_back(std::string(n, '\0'));
  insert_then_erase(keys, keys);
  insert_then_erase(reversed(keys), keys);
  insert_then_erase(keys, reversed(keys));
}

TEST(ArtZeroByteTest, ZerosMixedWithOtherBytes) {
  const std::vector<std::string> keys = {
      std::string("\0", 1),
      std::string("\0\0", 2),
      std::string("\0\x01", 2),
      std::string("\x01\0", 2),
      std::string("\0\0\xff", 3),
      std::string("a\0b", 3),
      std::string("a\0c", 3),
      std::string("a\0", 2),
      "a",
      std::string("\0a\0", 3),
      "\x01",
  };
  insert_then_erase(keys, keys);
  insert_then_erase(reversed(keys), reversed(keys));
}

TEST(ArtZeroByteTest, OrderPutsShorterZeroKeysFirst) {
  tree_fixture f;
  model m;
  for (const std::string& k :
       {std::string("\0\x01", 2), std::string("\0\0", 2), std::string("\0", 1), std::string(), std::string("\x01")}) {
    ASSERT_TRUE(put(f.tree, m, k, "v"));
  }
  std::vector<std::string> got;
  auto c = f.tree.cursor();
  for (c.seek_to_first(); c.valid(); c.next()) got.push_back(str(c.key()));
  const std::vector<std::string> want = {std::string(), std::string("\0", 1), std::string("\0\0", 2),
                                         std::string("\0\x01", 2), std::string("\x01")};
  EXPECT_EQ(got, want);
}

// ---- Byte order ------------------------------------------------------------------------------------------

TEST(ArtByteOrderTest, BytesCompareUnsigned) {
  tree_fixture f;
  model m;
  for (const char* k : {"\xff", "\x7f", "\x80", "\x01", "a\xff", "a\x7f", "a\x80"}) ASSERT_TRUE(put(f.tree, m, k, "v"));
  std::vector<std::string> got;
  auto c = f.tree.cursor();
  for (c.seek_to_first(); c.valid(); c.next()) got.push_back(str(c.key()));
  const std::vector<std::string> want = {"\x01", "a\x7f", "a\x80", "a\xff", "\x7f", "\x80", "\xff"};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtByteOrderTest, HighBytesInEveryNodeKind) {
  // Children straddling 0x7F/0x80 in every node kind: signed compares would put 0x80.. first.
  for (const unsigned fanout : {4U, 16U, 32U, 48U, 200U}) {
    SCOPED_TRACE("fan-out " + std::to_string(fanout));
    tree_fixture f;
    model m;
    for (unsigned i = 0; i < fanout; ++i) {
      const unsigned b = (0x80 - fanout / 2 + i) & 0xFF;
      ASSERT_TRUE(put(f.tree, m, std::string("n") + static_cast<char>(b) + "/x", "v"));
    }
    ASSERT_TRUE(matches(f.tree, m));
    for (unsigned b = 0; b < 256; ++b) {
      ASSERT_TRUE(seeks(f.tree, m, std::string("n") + static_cast<char>(b)));
      ASSERT_TRUE(seeks(f.tree, m, std::string("n") + static_cast<char>(b) + "/y"));
    }
  }
}

// ---- Long keys -------------------------------------------------------------------------------------------

class ArtLongKeyTest : public ::testing::Test {
 protected:
  static constexpr std::size_t shared = 9 * 1024;
  static constexpr std::size_t length = 10 * 1024;

  void SetUp() override {
    rng r(0x10'0000);
    base_ = r.bytes(shared);
    for (int i = 0; i < 6; ++i) keys_.push_back(base_ + r.bytes(length - shared));
    // Keys that leave the shared run at its start, inside the inline bytes, far past them, and at its end.
    for (const std::size_t at : {std::size_t{0}, std::size_t{3}, std::size_t{100}, std::size_t{5000}, shared - 1}) {
      std::string k = keys_[0];
      k[at] = static_cast<char>(static_cast<unsigned char>(k[at]) ^ 0x01);
      keys_.push_back(std::move(k));
    }
    keys_.push_back(base_);                     // a key that is the shared run itself (a terminal)
    keys_.push_back(base_.substr(0, 4096));     // and a prefix of it
    keys_.push_back(keys_[0] + r.bytes(6000));  // a key that extends another (16 KiB total)
  }

  std::string base_;
  std::vector<std::string> keys_;
};

TEST_F(ArtLongKeyTest, InsertFindSeekErase) {
  // Few probe positions per key: each seek on a 10 KiB key compares kilobytes.
  insert_then_erase(keys_, keys_, 4);
  insert_then_erase(reversed(keys_), keys_, 4);
}

TEST_F(ArtLongKeyTest, KeysThatDifferOnlyPastTheInlinePrefixMiss) {
  tree_fixture f;
  model m;
  // Only keys sharing the whole 9 KiB run: the root's prefix is 9 KiB long.
  for (std::size_t i = 0; i < 6; ++i) ASSERT_TRUE(put(f.tree, m, keys_[i], std::to_string(i)));
  ASSERT_TRUE(matches(f.tree, m));
  for (const std::size_t at : {std::size_t{0}, std::size_t{7}, std::size_t{8}, std::size_t{9}, std::size_t{4000},
                               shared - 1, shared, length - 1}) {
    for (const int delta : {1, 0x80}) {
      std::string miss = keys_[2];
      miss[at] = static_cast<char>(static_cast<unsigned char>(miss[at]) ^ delta);
      SCOPED_TRACE("byte " + std::to_string(at) + " flipped by " + std::to_string(delta));
      EXPECT_TRUE(finds(f.tree, m, miss));
      EXPECT_TRUE(seeks(f.tree, m, miss));
      EXPECT_TRUE(seeks(f.tree, m, miss.substr(0, at + 1)));
      // Erasing a key that is absent changes nothing.
      ASSERT_TRUE(del(f.tree, m, miss));
    }
  }
  EXPECT_TRUE(matches(f.tree, m));
  // Keys shorter than the shared run, ending inside it.
  for (const std::size_t n : {std::size_t{1}, std::size_t{8}, std::size_t{9}, std::size_t{2048}, shared - 1}) {
    EXPECT_TRUE(finds(f.tree, m, base_.substr(0, n)));
    EXPECT_TRUE(seeks(f.tree, m, base_.substr(0, n)));
  }
}

TEST_F(ArtLongKeyTest, SplittingALongPrefixDeepInside) {
  tree_fixture f;
  model m;
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(put(f.tree, m, keys_[i], "v"));
  // Each insert splits the 9 KiB prefix at a new depth, deepest first.
  for (const std::size_t at :
       {std::size_t{8000}, std::size_t{6000}, std::size_t{20}, std::size_t{5}, std::size_t{8001}, std::size_t{1}}) {
    std::string k = keys_[1];
    k[at] = static_cast<char>(static_cast<unsigned char>(k[at]) + 1);
    ASSERT_TRUE(put(f.tree, m, k, "split at " + std::to_string(at)));
    ASSERT_TRUE(matches(f.tree, m)) << "after splitting at " << at;
    for (const std::string& p : probes_around(k, 32)) ASSERT_TRUE(seeks(f.tree, m, p));
  }
}

// Nested long prefixes: upsert walks the way find does, taking prefix bytes past a node's inline ones on
// trust, and checks them against one leaf before it writes. Each variant of a present key differs from the
// tree at one byte -- inside the inline bytes or past them, of the upper or the lower long prefix, at a
// branch byte, or where the key ends -- and is inserted, then overwritten, into a tree whose nodes are all
// its own and into one whose nodes a frozen root shares (copy-on-write on the way down).
class ArtNestedLongPrefixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rng r(0x2e57);
    const std::string upper = r.bytes(20);
    const std::string lower = r.bytes(20);
    for (const char a : {'a', 'b'}) {
      for (const char b : {'x', 'y', 'z'}) keys_.push_back(upper + a + lower + b + r.bytes(3));
    }
    keys_.push_back(upper + 'a' + lower);  // a terminal at the end of the lower prefix
  }

  /// Variants of keys_[1]: one byte changed at every offset, and every shorter and one longer key.
  [[nodiscard]] std::vector<std::string> variants() const {
    std::vector<std::string> out;
    const std::string& k = keys_[1];
    for (std::size_t at = 0; at < k.size(); ++at) {
      for (const int delta : {1, 0x80}) {
        std::string v = k;
        v[at] = static_cast<char>(static_cast<unsigned char>(v[at]) ^ delta);
        out.push_back(std::move(v));
      }
      out.push_back(k.substr(0, at));
    }
    out.push_back(k + "more");
    return out;
  }

  std::vector<std::string> keys_;
};

TEST_F(ArtNestedLongPrefixTest, InsertsAndOverwritesThatPartAtEveryByte) {
  for (const bool frozen : {false, true}) {
    for (const std::string& v : variants()) {
      SCOPED_TRACE(std::string(frozen ? "after a freeze, " : "") + "variant " + show(v));
      tree_fixture f;
      model m;
      for (const std::string& k : keys_) ASSERT_TRUE(put(f.tree, m, k, "v"));
      const model at_freeze = m;
      std::optional<frozen_root> root;
      if (frozen) root = f.tree.freeze();
      ASSERT_TRUE(put(f.tree, m, v, "inserted"));
      ASSERT_TRUE(put(f.tree, m, v, "overwritten"));
      for (const std::string& k : keys_) ASSERT_TRUE(put(f.tree, m, k, "again"));
      ASSERT_TRUE(f.tree.verify());
      ASSERT_TRUE(matches(f.tree, m));
      if (root) {
        ASSERT_TRUE(f.tree.verify(*root));
        ASSERT_TRUE(matches(f.tree, at_freeze, &*root));
      }
    }
  }
}

// ---- Values ----------------------------------------------------------------------------------------------

TEST(ArtValueTest, EveryHeaderSizeAndOverwritesBetweenThem) {
  tree_fixture f;
  model m;
  rng r(5);
  // 0xFFFF and up take the long header; 0xFFFE is the longest short one.
  const std::size_t sizes[] = {0, 1, 7, 8, 100, 4096, 0xFFFE, 0xFFFF, 0x10000, 300000, 3, 0};
  for (const std::size_t n : sizes) {
    SCOPED_TRACE("value of " + std::to_string(n) + " bytes");
    ASSERT_TRUE(put(f.tree, m, "k", r.bytes(n)));
    ASSERT_TRUE(put(f.tree, m, "k" + std::to_string(n), r.bytes(n)));
    ASSERT_TRUE(matches(f.tree, m));
  }
}

TEST(ArtValueTest, OverwriteKeepsSizeAndReplacesTheValue) {
  tree_fixture f;
  model m;
  for (const char* k : {"a", "ab", "b"}) ASSERT_TRUE(put(f.tree, m, k, "first"));
  ASSERT_TRUE(put(f.tree, m, "ab", "second, longer than the first"));
  EXPECT_EQ(f.tree.size(), 3u);
  const auto v = f.tree.find(kv("ab"));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(str(*v), "second, longer than the first");
  EXPECT_TRUE(matches(f.tree, m));
}

TEST(ArtValueTest, UpsertMayTakeItsValueFromTheTreeItself) {
  // art.hpp: key and value may point into the tree (a value read by find); they are copied first.
  tree_fixture f;
  model m;
  ASSERT_TRUE(put(f.tree, m, "src", std::string(100, 's')));
  ASSERT_TRUE(put(f.tree, m, "dst", "d"));
  const auto v = f.tree.find(kv("src"));
  ASSERT_TRUE(v.has_value());
  ASSERT_TRUE(f.tree.upsert(kv("src"), *v).has_value());  // overwrite a leaf with its own bytes
  const auto v2 = f.tree.find(kv("src"));
  ASSERT_TRUE(v2.has_value());
  const auto r = f.tree.upsert(kv("dst"), *v2);
  ASSERT_TRUE(r.has_value());
  m["dst"] = std::string(100, 's');
  EXPECT_TRUE(matches(f.tree, m));
}

}  // namespace
}  // namespace tessel::index::test
