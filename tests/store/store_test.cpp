// The public tessel::store surface, typed over every backend (dram; mmap and pmem with durability none and
// sync): point access, every error path, typed access, cursors, prefix and range
// scans, get_or_insert, sizes and memory accounting, clear, flush, and a small differential run against std::map.
#include "tessel/store.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/pmem_env.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

/// How a backend opens a fresh store in directory `dir` (unused by dram). `reserve` 0: the default.
struct dram_backend {
  static constexpr const char* name = "Dram";
  static result<std::unique_ptr<store>> open(const std::string& /*dir*/, std::size_t reserve) {
    options o;
    o.backend = backend::dram;
    o.reserve_bytes = reserve;
    return store::open(o);
  }
};

template <durability Level>
struct mmap_backend {
  static constexpr const char* name = Level == durability::none ? "MmapNone" : "MmapSync";
  static result<std::unique_ptr<store>> open(const std::string& dir, std::size_t reserve) {
    options o;
    o.backend = backend::mmap;
    o.durability = Level;
    o.mode = open_mode::create_new;
    o.reserve_bytes = reserve;
    return store::open(dir, o);
  }
};

template <durability Level>
struct pmem_backend {
  static constexpr const char* name = Level == durability::none ? "PmemNone" : "PmemSync";
  static result<std::unique_ptr<store>> open(const std::string& dir, std::size_t reserve) {
    test::force_pmem_flush();
    options o;
    o.backend = backend::pmem;
    o.durability = Level;
    o.mode = open_mode::create_new;
    // Room for the largest value (64 MiB); pools do not grow, so a reservation becomes a small pool.
    o.pool_bytes = reserve != 0 ? 16 << 20 : 160 << 20;
    o.log_segment_bytes = 1 << 20;
    return store::open(dir, o);
  }
};

using backends = ::testing::Types<dram_backend, mmap_backend<durability::none>, mmap_backend<durability::sync>,
                                  pmem_backend<durability::none>, pmem_backend<durability::sync>>;

class backend_names {
 public:
  template <class Backend>
  static std::string GetName(int /*index*/) {
    return Backend::name;
  }
};

std::string str(bytes_view b) { return to_string(b); }
bytes_view bv(const std::string& s) { return as_bytes(s); }

/// Entries of a scan, copied.
std::vector<std::pair<std::string, std::string>> collect(scan_range&& range) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const entry& e : range) out.emplace_back(str(e.key), str(e.value));
  return out;
}

using pairs = std::vector<std::pair<std::string, std::string>>;

template <class Backend>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = open(); }

  /// A fresh store in its own directory.
  std::unique_ptr<store> open(std::size_t reserve = 0) {
    auto s = Backend::open(dir_.sub("store" + std::to_string(opened_++)), reserve);
    if (!s) {
      ADD_FAILURE() << "store::open: " << s.error().to_string();
      return nullptr;
    }
    return std::move(*s);
  }

  store& db() { return *store_; }

  void put_all(std::initializer_list<const char*> keys) {
    for (const char* k : keys) ASSERT_TRUE(db().put_string(k, std::string("v:") + k).has_value()) << k;
  }

  test::temp_dir dir_;
  int opened_ = 0;
  std::unique_ptr<store> store_;
};

TYPED_TEST_SUITE(StoreTest, backends, backend_names);

// ---- Opening -----------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, OpensEmpty) {
  ASSERT_NE(this->store_, nullptr);
  EXPECT_EQ(this->db().len(), 0u);
  EXPECT_TRUE(this->db().is_empty());
  EXPECT_FALSE(this->db().contains(bv("a")));
  EXPECT_EQ(this->db().memory().leaf_bytes, 0u);
  auto c = this->db().new_cursor();
  EXPECT_FALSE(c.valid()) << "a new cursor is not positioned";
  c.seek_to_first();
  EXPECT_FALSE(c.valid());
  c.seek_to_last();
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(collect(this->db().prefix_scan(bv(""))).empty());
}

TYPED_TEST(StoreTest, StoresAreIndependent) {
  auto other = this->open();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(this->db().put_string("k", "mine").has_value());
  ASSERT_TRUE(other->put_string("k", "theirs").has_value());
  EXPECT_EQ(this->db().get_string("k").value_or(""), "mine");
  EXPECT_EQ(other->get_string("k").value_or(""), "theirs");
  EXPECT_EQ(this->db().len(), 1u);
  EXPECT_EQ(other->len(), 1u);
}

TEST(StoreOpenTest, UnknownBackendIsRefused) {
  options o;
  o.backend = static_cast<backend>(200);
  const auto s = store::open(o);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(s.error().message()), HasSubstr("200"));
}

// ---- Point access ------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, PutThenGet) {
  ASSERT_TRUE(this->db().put(bv("alpha"), bv("1")).has_value());
  ASSERT_TRUE(this->db().put(bv("beta"), bv("22")).has_value());
  const auto a = this->db().get(bv("alpha"));
  const auto b = this->db().get(bv("beta"));
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  // Both views stay valid across const calls.
  EXPECT_EQ(str(*a), "1");
  EXPECT_EQ(str(*b), "22");
  EXPECT_TRUE(this->db().contains(bv("alpha")));
  EXPECT_EQ(this->db().len(), 2u);
  EXPECT_FALSE(this->db().is_empty());
}

TYPED_TEST(StoreTest, MissingKeyIsNotFound) {
  this->put_all({"a", "abc"});
  for (const char* k : {"", "ab", "abcd", "b"}) {
    const auto r = this->db().get(bv(k));
    ASSERT_FALSE(r.has_value()) << k;
    EXPECT_EQ(r.error().code(), errc::not_found);
    EXPECT_FALSE(this->db().contains(bv(k)));
    const auto s = this->db().get_string(k);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), errc::not_found);
  }
}

TYPED_TEST(StoreTest, PutOverwrites) {
  ASSERT_TRUE(this->db().put_string("k", "first").has_value());
  ASSERT_TRUE(this->db().put_string("k", "a longer second value").has_value());
  EXPECT_EQ(this->db().get_string("k").value_or(""), "a longer second value");
  ASSERT_TRUE(this->db().put_string("k", "").has_value());
  EXPECT_EQ(this->db().get_string("k").value_or("x"), "");
  EXPECT_EQ(this->db().len(), 1u);
}

TYPED_TEST(StoreTest, EraseSaysWhetherTheKeyWasThere) {
  this->put_all({"a", "ab", "b"});
  const auto first = this->db().erase(bv("ab"));
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(*first);
  const auto again = this->db().erase(bv("ab"));
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(*again) << "erasing a missing key is not an error";
  const auto never = this->db().erase(bv("zzz"));
  ASSERT_TRUE(never.has_value());
  EXPECT_FALSE(*never);
  EXPECT_FALSE(this->db().contains(bv("ab")));
  EXPECT_EQ(this->db().get(bv("ab")).error().code(), errc::not_found);
  EXPECT_EQ(this->db().len(), 2u);
  EXPECT_EQ(this->db().get_string("a").value_or(""), "v:a");
}

TYPED_TEST(StoreTest, KeysAndValuesAreArbitraryBytes) {
  const std::string keys[] = {std::string(),          std::string("\0", 1), std::string("\0\0", 2),
                              std::string("a\0b", 3), "\xff\xfe",           "\x7f"};
  for (const std::string& k : keys) {
    ASSERT_TRUE(this->db().put(bv(k), bv(k + std::string("\0v", 2))).has_value());
  }
  EXPECT_EQ(this->db().len(), std::size(keys));
  for (const std::string& k : keys) {
    const auto v = this->db().get(bv(k));
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(str(*v), k + std::string("\0v", 2));
  }
  // Unsigned byte order: "" < "\0" < "\0\0" < "a\0b" < "\x7f" < "\xff\xfe".
  std::vector<std::string> order;
  for (const entry& e : this->db().prefix_scan(bv(""))) order.push_back(str(e.key));
  const std::vector<std::string> want = {
      std::string(), std::string("\0", 1), std::string("\0\0", 2), std::string("a\0b", 3), "\x7f", "\xff\xfe"};
  EXPECT_EQ(order, want);
}

// ---- Limits ------------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, KeyOfMaxSizeIsAccepted) {
  const std::string key(max_key_size, 'k');
  ASSERT_TRUE(this->db().put(bv(key), bv("v")).has_value());
  EXPECT_TRUE(this->db().contains(bv(key)));
  EXPECT_EQ(str(this->db().get(bv(key)).value()), "v");
  const auto got = this->db().get_or_insert(bv(key), bv("other"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(str(*got), "v");
  const auto erased = this->db().erase(bv(key));
  ASSERT_TRUE(erased.has_value());
  EXPECT_TRUE(*erased);
}

TYPED_TEST(StoreTest, KeyOneByteOverTheLimitIsInvalid) {
  this->put_all({"kept"});
  const std::string key(max_key_size + 1, 'k');
  const std::string size = std::to_string(max_key_size + 1);
  const std::string limit = std::to_string(max_key_size);

  const auto put = this->db().put(bv(key), bv("v"));
  ASSERT_FALSE(put.has_value());
  EXPECT_EQ(put.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(put.error().message()), HasSubstr(size));
  EXPECT_THAT(std::string(put.error().message()), HasSubstr(limit));
  EXPECT_THAT(std::string(put.error().message()), HasSubstr("key"));

  const auto get = this->db().get(bv(key));
  ASSERT_FALSE(get.has_value());
  EXPECT_EQ(get.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(get.error().message()), HasSubstr(size));

  EXPECT_FALSE(this->db().contains(bv(key))) << "an oversize key is never present";

  const auto erase = this->db().erase(bv(key));
  ASSERT_FALSE(erase.has_value());
  EXPECT_EQ(erase.error().code(), errc::invalid_argument);

  const auto gi = this->db().get_or_insert(bv(key), bv("v"));
  ASSERT_FALSE(gi.has_value());
  EXPECT_EQ(gi.error().code(), errc::invalid_argument);

  const auto typed = this->db().put_as(bv(key), std::uint32_t{7});
  ASSERT_FALSE(typed.has_value());
  EXPECT_EQ(typed.error().code(), errc::invalid_argument);

  EXPECT_EQ(this->db().len(), 1u) << "a refused call changes nothing";
  EXPECT_TRUE(this->db().contains(bv("kept")));
}

TYPED_TEST(StoreTest, ValueLimits) {
  std::vector<std::byte> big(max_value_size + 1);
  for (std::size_t i = 0; i < big.size(); i += 4093) big[i] = std::byte{static_cast<std::uint8_t>(i / 4093)};
  const bytes_view at_limit(big.data(), max_value_size);
  const bytes_view over(big.data(), max_value_size + 1);

  // One byte over: refused with both sizes named, by put and by get_or_insert.
  const auto put_over = this->db().put(bv("big"), over);
  ASSERT_FALSE(put_over.has_value());
  EXPECT_EQ(put_over.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(put_over.error().message()), HasSubstr(std::to_string(max_value_size + 1)));
  EXPECT_THAT(std::string(put_over.error().message()), HasSubstr(std::to_string(max_value_size)));
  EXPECT_THAT(std::string(put_over.error().message()), HasSubstr("value"));
  const auto gi_over = this->db().get_or_insert(bv("big"), over);
  ASSERT_FALSE(gi_over.has_value());
  EXPECT_EQ(gi_over.error().code(), errc::invalid_argument);
  EXPECT_FALSE(this->db().contains(bv("big")));
  EXPECT_EQ(this->db().len(), 0u);

  // Exactly at the limit: stored and read back whole.
  ASSERT_TRUE(this->db().put(bv("big"), at_limit).has_value());
  const auto v = this->db().get(bv("big"));
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->size(), max_value_size);
  EXPECT_EQ(std::memcmp(v->data(), big.data(), max_value_size), 0);
  EXPECT_GE(this->db().memory().leaf_bytes, max_value_size);
  // Replaced by a small value, the big block is given back (by a durable store once a commit no longer
  // reaches it: the checkpoint policy may have committed it).
  ASSERT_TRUE(this->db().put_string("big", "small").has_value());
  ASSERT_TRUE(this->db().checkpoint().has_value());
  EXPECT_LT(this->db().memory().live_bytes, std::size_t{1} << 20);
}

TYPED_TEST(StoreTest, ReservationExhaustedIsNoSpaceAndChangesNothing) {
  auto small = this->open(2u << 20);
  ASSERT_NE(small, nullptr);
  const std::string value(64 * 1024, 'v');
  std::size_t stored = 0;
  result<void> last;
  for (; stored < 1000; ++stored) {
    last = small->put_string("key" + std::to_string(stored), value);
    if (!last) break;
  }
  ASSERT_FALSE(last.has_value()) << "a 2 MiB reservation took 1000 values of 64 KiB";
  EXPECT_EQ(last.error().code(), errc::no_space);
  EXPECT_FALSE(last.error().message().empty());
  EXPECT_GT(stored, 0u);
  EXPECT_EQ(small->len(), stored);
  EXPECT_FALSE(small->contains(bv("key" + std::to_string(stored))));
  for (std::size_t i = 0; i < stored; ++i) {
    ASSERT_EQ(small->get_string("key" + std::to_string(i)).value_or(""), value) << i;
  }
  // Freed space is usable again.
  ASSERT_TRUE(small->erase(bv("key0")).value_or(false));
  EXPECT_TRUE(small->put_string("again", value).has_value());
  EXPECT_EQ(small->len(), stored);
}

TYPED_TEST(StoreTest, WritesMayTakeKeysAndValuesReadFromTheStore) {
  // Views into the store's own blocks, which the write itself may free (a durable store copies them for its
  // log first).
  ASSERT_TRUE(this->db().put_string("source", std::string(300, 's')).has_value());
  ASSERT_TRUE(this->db().put_string("key-as-value", "target").has_value());
  const auto v = this->db().get(bv("source"));
  ASSERT_TRUE(v.has_value());
  ASSERT_TRUE(this->db().put(bv("copy"), *v).has_value());
  const auto same = this->db().get(bv("source"));
  ASSERT_TRUE(same.has_value());
  ASSERT_TRUE(this->db().put(bv("source"), *same).has_value()) << "overwriting a key with its own value";
  EXPECT_EQ(this->db().get_string("source").value_or(""), std::string(300, 's'));
  EXPECT_EQ(this->db().get_string("copy").value_or(""), std::string(300, 's'));

  auto c = this->db().new_cursor();
  c.seek(bv("key-as-value"));
  ASSERT_TRUE(c.valid());
  const auto inserted = this->db().get_or_insert(c.value(), c.key());
  ASSERT_TRUE(inserted.has_value());
  EXPECT_EQ(str(*inserted), "key-as-value");
  c.seek(bv("copy"));
  ASSERT_TRUE(c.valid());
  EXPECT_TRUE(this->db().erase(c.key()).value_or(false));
  EXPECT_FALSE(this->db().contains(bv("copy")));
  EXPECT_EQ(this->db().get_string("target").value_or(""), "key-as-value");
}

// ---- get_or_insert -----------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, GetOrInsertStoresTheDefaultOnlyWhenAbsent) {
  const auto inserted = this->db().get_or_insert(bv("k"), bv("default"));
  ASSERT_TRUE(inserted.has_value());
  EXPECT_EQ(str(*inserted), "default");
  EXPECT_EQ(this->db().len(), 1u);
  EXPECT_EQ(this->db().get_string("k").value_or(""), "default");

  ASSERT_TRUE(this->db().put_string("k", "changed").has_value());
  const auto existing = this->db().get_or_insert(bv("k"), bv("default"));
  ASSERT_TRUE(existing.has_value());
  EXPECT_EQ(str(*existing), "changed");
  EXPECT_EQ(this->db().len(), 1u);

  const auto empty = this->db().get_or_insert(bv(""), bv(""));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(this->db().len(), 2u);
}

// ---- Typed access ------------------------------------------------------------------------------------------

struct point {
  std::int32_t x;
  std::int32_t y;
  double weight;
};

TYPED_TEST(StoreTest, TypedRoundTrip) {
  ASSERT_TRUE(this->db().put_as(bv("u64"), std::uint64_t{0x0123'4567'89AB'CDEF}).has_value());
  ASSERT_TRUE(this->db().put_as(bv("i8"), std::int8_t{-5}).has_value());
  ASSERT_TRUE(this->db().put_as(bv("pt"), point{-3, 4, 0.5}).has_value());
  EXPECT_EQ(this->db().template get_as<std::uint64_t>(bv("u64")).value_or(0), 0x0123'4567'89AB'CDEFu);
  EXPECT_EQ(this->db().template get_as<std::int8_t>(bv("i8")).value_or(0), -5);
  const auto p = this->db().template get_as<point>(bv("pt"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->x, -3);
  EXPECT_EQ(p->y, 4);
  EXPECT_DOUBLE_EQ(p->weight, 0.5);
  EXPECT_EQ(this->db().get(bv("pt")).value().size(), sizeof(point));
}

TYPED_TEST(StoreTest, TypedSizeMismatchIsInvalid) {
  ASSERT_TRUE(this->db().put_as(bv("u64"), std::uint64_t{1}).has_value());
  const auto narrow = this->db().template get_as<std::uint32_t>(bv("u64"));
  ASSERT_FALSE(narrow.has_value());
  EXPECT_EQ(narrow.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(narrow.error().message()), HasSubstr("8"));
  EXPECT_THAT(std::string(narrow.error().message()), HasSubstr("4"));
  const auto wide = this->db().template get_as<point>(bv("u64"));
  ASSERT_FALSE(wide.has_value());
  EXPECT_EQ(wide.error().code(), errc::invalid_argument);
  ASSERT_TRUE(this->db().put_string("s", "").has_value());
  EXPECT_EQ(this->db().template get_as<std::uint8_t>(bv("s")).error().code(), errc::invalid_argument);
  EXPECT_EQ(this->db().template get_as<std::uint64_t>(bv("missing")).error().code(), errc::not_found);
}

TYPED_TEST(StoreTest, StringHelpers) {
  ASSERT_TRUE(this->db().put_string("name", std::string("with\0zero", 9)).has_value());
  const auto s = this->db().get_string("name");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(*s, std::string("with\0zero", 9));
  // put_string stores the bytes; the typed view of eight of them reads back.
  ASSERT_TRUE(this->db().put_string("eight", "abcdefgh").has_value());
  const auto raw = this->db().template get_as<std::uint64_t>(bv("eight"));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(std::memcmp(&*raw, "abcdefgh", 8), 0);
  const auto too_long = this->db().get_string(std::string(max_key_size + 1, 'k'));
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().code(), errc::invalid_argument);
}

// ---- Cursors -----------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, CursorWalksBothWaysAndStopsAtTheEnds) {
  this->put_all({"b", "d", "f"});
  auto c = this->db().new_cursor();
  c.seek_to_first();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "b");
  EXPECT_EQ(str(c.value()), "v:b");
  c.prev();
  EXPECT_FALSE(c.valid()) << "prev from the first key";
  c.seek_to_last();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "f");
  c.prev();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "d");
  c.next();
  c.next();
  EXPECT_FALSE(c.valid()) << "next from the last key";
}

TYPED_TEST(StoreTest, CursorSeeks) {
  this->put_all({"b", "d", "d/1", "f"});
  auto c = this->db().new_cursor();
  const struct {
    const char* key;
    const char* seek;           // first >= key, nullptr: invalid
    const char* seek_for_prev;  // last <= key, nullptr: invalid
  } cases[] = {
      {"", "b", nullptr}, {"a", "b", nullptr}, {"b", "b", "b"},     {"c", "d", "b"},
      {"d", "d", "d"},    {"d/", "d/1", "d"},  {"d/0", "d/1", "d"}, {"d/2", "f", "d/1"},
      {"e", "f", "d/1"},  {"f", "f", "f"},     {"g", nullptr, "f"}, {"\xff", nullptr, "f"},
  };
  for (const auto& t : cases) {
    SCOPED_TRACE(t.key);
    c.seek(bv(t.key));
    if (t.seek == nullptr) {
      EXPECT_FALSE(c.valid());
    } else {
      ASSERT_TRUE(c.valid());
      EXPECT_EQ(str(c.key()), t.seek);
    }
    c.seek_for_prev(bv(t.key));
    if (t.seek_for_prev == nullptr) {
      EXPECT_FALSE(c.valid());
    } else {
      ASSERT_TRUE(c.valid());
      EXPECT_EQ(str(c.key()), t.seek_for_prev);
    }
  }
}

TYPED_TEST(StoreTest, CursorSeekInPrefixEndsWithThePrefix) {
  this->put_all({"a", "ab", "ab/1", "ab/2", "abc", "b"});
  auto c = this->db().new_cursor();
  const auto walk = [&c](const char* prefix) {
    std::vector<std::string> seen;
    for (c.seek_in_prefix(bv(prefix)); c.valid(); c.next()) seen.push_back(str(c.key()));
    return seen;
  };
  using keys = std::vector<std::string>;
  EXPECT_EQ(walk("ab"), (keys{"ab", "ab/1", "ab/2", "abc"}));
  EXPECT_EQ(walk("ab/"), (keys{"ab/1", "ab/2"}));
  EXPECT_EQ(walk("ab/2"), (keys{"ab/2"}));
  EXPECT_EQ(walk("aa"), keys{});  // keys follow it, none with the prefix
  EXPECT_EQ(walk("c"), keys{});
  EXPECT_EQ(walk("").size(), 6U);
  c.seek_in_prefix(bv("ab/"));
  c.prev();  // a plain step, out of the prefix; the steps after it are plain too
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "ab");
  c.next();
  c.next();
  c.next();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(str(c.key()), "abc");
}

TYPED_TEST(StoreTest, CursorMovesAndIsReseekableAfterWrites) {
  this->put_all({"a", "b"});
  auto c = this->db().new_cursor();
  c.seek_to_first();
  auto moved = std::move(c);
  ASSERT_TRUE(moved.valid());
  EXPECT_EQ(str(moved.key()), "a");
  auto other = this->db().new_cursor();
  other = std::move(moved);
  ASSERT_TRUE(other.valid());
  EXPECT_EQ(str(other.key()), "a");
  // A write invalidates the position; a seek makes the cursor usable again and sees the write.
  ASSERT_TRUE(this->db().put_string("aa", "new").has_value());
  other.seek(bv("a"));
  other.next();
  ASSERT_TRUE(other.valid());
  EXPECT_EQ(str(other.key()), "aa");
  EXPECT_EQ(str(other.value()), "new");
}

// ---- Scans -------------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, PrefixScan) {
  this->put_all({"/a", "/a/b", "/a/b/c", "/a/bc", "/a0", "/b", "a"});
  EXPECT_EQ(collect(this->db().prefix_scan(bv("/a/"))),
            (pairs{{"/a/b", "v:/a/b"}, {"/a/b/c", "v:/a/b/c"}, {"/a/bc", "v:/a/bc"}}));
  // The prefix itself is a key: included.
  EXPECT_EQ(collect(this->db().prefix_scan(bv("/a/b"))),
            (pairs{{"/a/b", "v:/a/b"}, {"/a/b/c", "v:/a/b/c"}, {"/a/bc", "v:/a/bc"}}));
  EXPECT_EQ(collect(this->db().prefix_scan(bv("/a/b/c"))), (pairs{{"/a/b/c", "v:/a/b/c"}}));
  EXPECT_EQ(collect(this->db().prefix_scan(bv("/"))).size(), 6u);
  EXPECT_EQ(collect(this->db().prefix_scan(bv(""))).size(), 7u);
  EXPECT_TRUE(collect(this->db().prefix_scan(bv("/c"))).empty());
  EXPECT_TRUE(collect(this->db().prefix_scan(bv("/a/b/c/d"))).empty());
  EXPECT_TRUE(collect(this->db().prefix_scan(bv("0"))).empty());
}

TYPED_TEST(StoreTest, PrefixScanOfHighBytesHasNoSuccessorToOverflow) {
  const std::string keys[] = {"\xfe", "\xff", "\xff\xff", std::string("\xff\x00", 2), "\xff\xff\xff", "\xff\xfe"};
  for (const std::string& k : keys) ASSERT_TRUE(this->db().put(bv(k), bv("v")).has_value());
  std::vector<std::string> got;
  for (const entry& e : this->db().prefix_scan(bv("\xff"))) got.push_back(str(e.key));
  EXPECT_EQ(got,
            (std::vector<std::string>{"\xff", std::string("\xff\x00", 2), "\xff\xfe", "\xff\xff", "\xff\xff\xff"}));
  got.clear();
  for (const entry& e : this->db().prefix_scan(bv("\xff\xff"))) got.push_back(str(e.key));
  EXPECT_EQ(got, (std::vector<std::string>{"\xff\xff", "\xff\xff\xff"}));
}

TYPED_TEST(StoreTest, RangeScanIsHalfOpen) {
  this->put_all({"a", "b", "b0", "c", "d"});
  const auto keys_of = [](const pairs& p) {
    std::vector<std::string> k;
    for (const auto& e : p) k.push_back(e.first);
    return k;
  };
  using keys = std::vector<std::string>;
  EXPECT_EQ(keys_of(collect(this->db().range_scan(bv("b"), bv("d")))), (keys{"b", "b0", "c"}));
  EXPECT_EQ(keys_of(collect(this->db().range_scan(bv("a0"), bv("c0")))), (keys{"b", "b0", "c"}));
  EXPECT_EQ(keys_of(collect(this->db().range_scan(bv(""), bv("\xff")))), (keys{"a", "b", "b0", "c", "d"}));
  EXPECT_EQ(keys_of(collect(this->db().range_scan(bv("c"), bv("zzz")))), (keys{"c", "d"}));
  EXPECT_EQ(keys_of(collect(this->db().range_scan(bv("b"), bv("b0")))), (keys{"b"}));
  // Empty when end <= start.
  EXPECT_TRUE(collect(this->db().range_scan(bv("b"), bv("b"))).empty());
  EXPECT_TRUE(collect(this->db().range_scan(bv("c"), bv("b"))).empty());
  EXPECT_TRUE(collect(this->db().range_scan(bv("b0"), bv("b"))).empty());
  EXPECT_TRUE(collect(this->db().range_scan(bv("e"), bv("f"))).empty());
  EXPECT_TRUE(collect(this->db().range_scan(bv("a"), bv(""))).empty());
}

// A scan hands out entries in batches of 16 and compares keys with the end eight bytes at a time after the
// bytes start and end share: ends inside, at and just after a batch, and keys that differ from the end
// only beyond that word, or are shorter than it.
TYPED_TEST(StoreTest, ScansAcrossBatchesAndEndComparisons) {
  std::vector<std::string> keys;
  for (int i = 0; i < 70; ++i) {
    char k[32];
    std::snprintf(k, sizeof k, "/shared/prefix/%03d", i);
    keys.emplace_back(k);
  }
  // Past the 8-byte word after "/shared/prefix/0": these differ from each other only in their last byte.
  for (const char* tail : {"0a", "0b", "0c"}) keys.push_back(std::string("/shared/prefix/0") + "12345678" + tail);
  keys.emplace_back("/shared/prefix/0");   // shorter than the shared bytes plus a word
  keys.emplace_back("/shared/prefix/01");  // likewise
  std::sort(keys.begin(), keys.end());
  for (const std::string& k : keys) ASSERT_TRUE(this->db().put(bv(k), bv("v:" + k)));

  for (const std::size_t first : {0U, 1U, 3U}) {
    for (const std::size_t count : {0U, 1U, 5U, 15U, 16U, 17U, 31U, 32U, 33U, 48U, 60U}) {
      const std::size_t last = first + count;
      ASSERT_LT(last, keys.size());
      pairs want;
      for (std::size_t i = first; i < last; ++i) want.emplace_back(keys[i], "v:" + keys[i]);
      EXPECT_EQ(collect(this->db().range_scan(bv(keys[first]), bv(keys[last]))), want)
          << "[" << keys[first] << ", " << keys[last] << ")";
      // An end that is not a key: just after the last wanted one.
      const std::string after = keys[last - (count == 0 ? 0 : 1)] + std::string(1, '\0');
      if (count != 0) {
        EXPECT_EQ(collect(this->db().range_scan(bv(keys[first]), bv(after))), want) << "end " << after;
      }
    }
  }
  pairs all;
  for (const std::string& k : keys) all.emplace_back(k, "v:" + k);
  EXPECT_EQ(collect(this->db().prefix_scan(bv("/shared/"))), all);
  // 000-029, the three long keys, "/shared/prefix/0" and "/shared/prefix/01".
  EXPECT_EQ(collect(this->db().range_scan(bv(""), bv("/shared/prefix/03"))).size(), 35u);
}

TYPED_TEST(StoreTest, ScanIteratorInterface) {
  this->put_all({"k1", "k2", "k3"});
  auto range = this->db().prefix_scan(bv("k"));
  auto it = range.begin();
  ASSERT_FALSE(it == range.end());
  EXPECT_EQ(str(it->key), "k1");
  EXPECT_EQ(str((*it).value), "v:k1");
  ++it;
  ASSERT_FALSE(it == range.end());
  EXPECT_EQ(str(it->key), "k2");
  ++it;
  ++it;
  EXPECT_TRUE(it == range.end());
}

// ---- Sizes, memory, clear, flush ---------------------------------------------------------------------------

TYPED_TEST(StoreTest, MemoryAccountingFollowsTheContents) {
  const memory_usage empty = this->db().memory();
  EXPECT_EQ(empty.leaf_bytes, 0u);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(this->db().put_string("key/" + std::to_string(i), std::string(50, 'v')).has_value());
  }
  const memory_usage full = this->db().memory();
  EXPECT_GT(full.live_bytes, 5000u * 50u);
  EXPECT_GT(full.leaf_bytes, 5000u * 50u);
  EXPECT_LE(full.leaf_bytes, full.live_bytes) << "leaves are part of live bytes";
  EXPECT_GT(full.live_bytes, full.leaf_bytes) << "inner nodes take some bytes too";
  EXPECT_GE(full.committed_bytes, full.live_bytes + full.free_bytes);
  EXPECT_EQ(this->db().size_bytes(), full.live_bytes);
  // Generous: header + key + value per leaf, a few nodes; a bound that catches a leak per entry, not a tuning.
  EXPECT_LT(full.live_bytes, 5000u * 200u);

  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(this->db().erase(bv("key/" + std::to_string(i))).value_or(false));
  const memory_usage drained = this->db().memory();
  EXPECT_EQ(drained.leaf_bytes, 0u);
  EXPECT_LE(drained.live_bytes, empty.live_bytes + 4096) << "erasing everything gives the bytes back";
  EXPECT_GT(drained.free_bytes, 0u);
  EXPECT_EQ(this->db().size_bytes(), drained.live_bytes);
  EXPECT_TRUE(this->db().is_empty());
}

TYPED_TEST(StoreTest, ClearThenReuse) {
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(this->db().put_string("k" + std::to_string(i), std::to_string(i)).has_value());
  }
  const std::size_t live_full = this->db().memory().live_bytes;
  ASSERT_TRUE(this->db().clear().has_value());
  EXPECT_EQ(this->db().len(), 0u);
  EXPECT_TRUE(this->db().is_empty());
  EXPECT_FALSE(this->db().contains(bv("k1")));
  EXPECT_EQ(this->db().get(bv("k1")).error().code(), errc::not_found);
  EXPECT_EQ(this->db().memory().leaf_bytes, 0u);
  EXPECT_LE(this->db().memory().live_bytes, 4096u);
  EXPECT_GT(this->db().memory().free_bytes, 0u);
  auto c = this->db().new_cursor();
  c.seek_to_first();
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(collect(this->db().prefix_scan(bv(""))).empty());

  // Reuse: the same entries go back in, into the freed space.
  const std::size_t committed = this->db().memory().committed_bytes;
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(this->db().put_string("k" + std::to_string(i), std::to_string(i)).has_value());
  }
  EXPECT_EQ(this->db().len(), 3000u);
  EXPECT_EQ(this->db().get_string("k1234").value_or(""), "1234");
  EXPECT_LE(this->db().memory().live_bytes, live_full);
  // Refilling reuses the freed blocks: the frontier barely moves (splits of larger free blocks may leave a
  // few bytes stranded), where fresh blocks would double it.
  EXPECT_LE(this->db().memory().committed_bytes, committed + committed / 100);
  ASSERT_TRUE(this->db().clear().has_value());
  ASSERT_TRUE(this->db().clear().has_value());  // clearing an empty store is fine
  EXPECT_TRUE(this->db().is_empty());
}

TYPED_TEST(StoreTest, FlushSucceeds) {
  EXPECT_TRUE(this->db().flush().has_value());
  this->put_all({"a"});
  EXPECT_TRUE(this->db().flush().has_value());
  EXPECT_EQ(this->db().get_string("a").value_or(""), "v:a");
}

// ---- Differential ------------------------------------------------------------------------------------------

TYPED_TEST(StoreTest, RandomOperationsMatchStdMap) {
  std::map<std::string, std::string> model;
  std::uint64_t state = 0x5703'E000'0001;
  const auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  const auto key = [&] {
    std::string k = "/" + std::to_string(next() % 20) + "/" + std::to_string(next() % 60);
    if (next() % 4 == 0) k.resize(next() % (k.size() + 1));
    return k;
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string k = key();
    switch (next() % 16) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
      case 5: {
        const std::string v(next() % 20, static_cast<char>('a' + next() % 26));
        ASSERT_TRUE(this->db().put_string(k, v).has_value());
        model[k] = v;
        break;
      }
      case 6:
      case 7: {
        const auto r = this->db().erase(bv(k));
        ASSERT_TRUE(r.has_value());
        ASSERT_EQ(*r, model.erase(k) == 1) << k;
        break;
      }
      case 8:
      case 9: {
        const auto r = this->db().get_or_insert(bv(k), bv("d"));
        ASSERT_TRUE(r.has_value());
        const auto [it, inserted] = model.try_emplace(k, "d");
        ASSERT_EQ(str(*r), it->second) << k << (inserted ? " (inserted)" : "");
        break;
      }
      case 10:
      case 11:
      case 12:
      case 13: {
        const auto r = this->db().get(bv(k));
        const auto it = model.find(k);
        ASSERT_EQ(r.has_value(), it != model.end()) << k;
        if (r) {
          ASSERT_EQ(str(*r), it->second);
        }
        break;
      }
      case 14: {
        const std::string p = k.substr(0, next() % (k.size() + 1));
        pairs want;
        for (auto it = model.lower_bound(p); it != model.end() && it->first.starts_with(p); ++it) {
          want.emplace_back(it->first, it->second);
        }
        ASSERT_EQ(collect(this->db().prefix_scan(bv(p))), want) << "prefix " << p;
        break;
      }
      default: {
        const std::string end = key();
        pairs want;
        if (k < end) {
          for (auto it = model.lower_bound(k); it != model.end() && it->first < end; ++it) {
            want.emplace_back(it->first, it->second);
          }
        }
        ASSERT_EQ(collect(this->db().range_scan(bv(k), bv(end))), want) << "[" << k << ", " << end << ")";
        break;
      }
    }
    ASSERT_EQ(this->db().len(), model.size());
  }
  pairs all(model.begin(), model.end());
  EXPECT_EQ(collect(this->db().prefix_scan(bv(""))), all);
}

}  // namespace
}  // namespace tessel
