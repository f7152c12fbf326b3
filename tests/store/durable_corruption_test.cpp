// Opening a damaged durable store: bytes written over the closed store's data file (superblock, meta slots,
// a leaf) or the file cut short. Every such open returns a typed error or falls back to an older intact
// commit; none aborts, reads outside the file, or returns data no commit held. Run under ASan too.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "common/checksum.hpp"
#include "common/le_codec.hpp"
#include "index/node_ref.hpp"
#include "mmap/store_format.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using test::crash;
using test::durable_options;
using test::expect_contents;
using test::model;
using test::must_open;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

class DurableCorruptionTest : public ::testing::Test {
 protected:
  /// A closed store holding `m_`.
  void make_store() {
    auto s = must_open(dir_, durable_options(durability::none));
    ASSERT_TRUE(s);
    for (int i = 0; i < 300; ++i) {
      const std::string k = "key/" + std::to_string(i);
      m_[k] = "value-" + std::to_string(i * 31);
      ASSERT_TRUE(s->put_string(k, m_[k]));
    }
    ASSERT_TRUE(s->close());
  }

  /// Opens the store expecting failure; returns the error (ok when it opened).
  error open_error(const options& o) {
    auto s = store::open(dir_, o);
    if (s) return error(errc::ok);
    return s.error();
  }
  error open_error() { return open_error(durable_options(durability::none)); }

  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
  std::filesystem::path file_ = test::data_file(dir_);
  model m_;
};

// ---- Superblock ----

TEST_F(DurableCorruptionTest, BadSuperblockMagicIsCorruption) {
  make_store();
  test::write_bytes(file_, 0, bytes_of("NOTTESSL"));
  const error e = open_error();
  EXPECT_EQ(e.code(), errc::corruption) << e.to_string();
  EXPECT_THAT(std::string(e.message()), HasSubstr("magic"));
}

TEST_F(DurableCorruptionTest, FlippedSuperblockByteIsCorruptionNamingTheChecksum) {
  make_store();
  test::flip_byte(file_, 48);  // inside the store id
  const error e = open_error();
  EXPECT_EQ(e.code(), errc::corruption) << e.to_string();
  EXPECT_THAT(std::string(e.message()), AllOf(HasSubstr("superblock"), HasSubstr("checksum")));
}

TEST_F(DurableCorruptionTest, NewerFormatVersionWithValidChecksumIsVersionMismatch) {
  make_store();
  std::vector<std::byte> page = test::read_bytes(file_, 0, mmap::page_bytes);
  ASSERT_EQ(page.size(), mmap::page_bytes);
  store_le<std::uint32_t>(page.data() + 8, 2);
  store_le<std::uint64_t>(page.data() + 4088, checksum64(std::span(page.data(), 4088)));
  test::write_bytes(file_, 0, page);
  const error e = open_error();
  EXPECT_EQ(e.code(), errc::version_mismatch) << e.to_string();
  EXPECT_THAT(std::string(e.message()), HasSubstr("version 2"));
}

TEST_F(DurableCorruptionTest, UnknownIncompatibleFeatureIsVersionMismatch) {
  make_store();
  std::vector<std::byte> page = test::read_bytes(file_, 0, mmap::page_bytes);
  ASSERT_EQ(page.size(), mmap::page_bytes);
  store_le<std::uint64_t>(page.data() + 16, mmap::known_incompat_features | (1ULL << 40));
  store_le<std::uint64_t>(page.data() + 4088, checksum64(std::span(page.data(), 4088)));
  test::write_bytes(file_, 0, page);
  EXPECT_EQ(open_error().code(), errc::version_mismatch);
}

TEST_F(DurableCorruptionTest, FileTruncatedInsideTheFixedPagesIsCorruption) {
  make_store();
  test::truncate_file(file_, 5000);
  const error e = open_error();
  EXPECT_EQ(e.code(), errc::corruption) << e.to_string();
  EXPECT_THAT(std::string(e.message()), HasSubstr("truncated"));
}

TEST_F(DurableCorruptionTest, EmptyFileIsCorruption) {
  make_store();
  test::truncate_file(file_, 0);
  EXPECT_EQ(open_error().code(), errc::corruption);
}

// ---- Meta slots ----

class DurableMetaSlotTest : public DurableCorruptionTest {
 protected:
  /// Two commits with different contents, the second the newest; then a crash, so no close commit follows.
  /// With `power_loss` the file holds exactly what the commits made durable; without it, the page cache
  /// also carries what the allocator wrote into blocks the second commit freed.
  void make_two_commits(bool power_loss) {
    auto s = must_open(dir_, durable_options(durability::none, power_loss));
    ASSERT_TRUE(s);
    for (int i = 0; i < 100; ++i) {
      const std::string k = "first/" + std::to_string(i);
      previous_[k] = "one";
      ASSERT_TRUE(s->put_string(k, "one"));
    }
    ASSERT_TRUE(s->checkpoint());
    newest_ = previous_;
    for (int i = 0; i < 100; i += 2) {
      const std::string k = "first/" + std::to_string(i);
      newest_[k] = "two";
      ASSERT_TRUE(s->put_string(k, "two"));
    }
    ASSERT_TRUE(s->erase(as_bytes("first/1")));
    newest_.erase("first/1");
    ASSERT_TRUE(s->put_string("second", "two"));
    newest_["second"] = "two";
    ASSERT_TRUE(s->checkpoint());
    // Writes after the last commit, never committed: they reuse the blocks the first commit's tree
    // reached and the second commit freed (same sizes as the leaves they replaced).
    for (int i = 0; i < 100; i += 2) ASSERT_TRUE(s->put_string("first/" + std::to_string(i), "333"));
    crash(std::move(s));
    ASSERT_EQ(test::meta_generation(file_, test::newest_slot(file_)),
              test::meta_generation(file_, 1 - test::newest_slot(file_)) + 1);
  }

  /// Damages the newest slot's root field (its checksum no longer matches).
  void damage_newest_slot() {
    test::flip_byte(file_, mmap::meta_offsets[static_cast<unsigned>(test::newest_slot(file_))] + 30);
  }

  model previous_;
  model newest_;
};

TEST_F(DurableMetaSlotTest, IntactSlotsOpenTheNewestCommit) {
  make_two_commits(/*power_loss=*/false);
  auto s = must_open(dir_, durable_options(durability::none));
  ASSERT_TRUE(s);
  expect_contents(*s, newest_);
}

TEST_F(DurableMetaSlotTest, FlippedByteInNewestSlotFallsBackToThePreviousCommit) {
  make_two_commits(/*power_loss=*/true);
  damage_newest_slot();
  auto s = must_open(dir_, durable_options(durability::none));
  ASSERT_TRUE(s);
  expect_contents(*s, previous_);
  // The fallback is a working store: writes commit into the slot that was damaged.
  ASSERT_TRUE(s->put(as_bytes("after"), as_bytes("fallback"), durability::sync));
  ASSERT_TRUE(s->close());
  s.reset();
  s = must_open(dir_, durable_options(durability::none));
  ASSERT_TRUE(s);
  model after = previous_;
  after["after"] = "fallback";
  expect_contents(*s, after);
}

TEST_F(DurableMetaSlotTest, FlippedByteInNewestSlotNeverOpensReusedBlocksOfThePreviousCommit) {
  // Here the previous commit's retired leaves were freed and rewritten ("333") before the crash, so its
  // tree is no longer whole: open must notice (block checksums) instead of serving values it never held.
  make_two_commits(/*power_loss=*/false);
  damage_newest_slot();
  auto s = store::open(dir_, durable_options(durability::none));
  RecordProperty("outcome", s ? "opened the previous commit" : s.error().to_string());
  if (s) {
    expect_contents(**s, previous_);
  } else {
    EXPECT_EQ(s.error().code(), errc::corruption) << s.error().to_string();
    EXPECT_THAT(std::string(s.error().message()), HasSubstr("meta slot"));
  }
}

TEST_F(DurableMetaSlotTest, BothSlotsDamagedIsCorruptionNamingBoth) {
  make_two_commits(/*power_loss=*/true);
  test::flip_byte(file_, mmap::meta_offsets[0] + 20);
  test::flip_byte(file_, mmap::meta_offsets[1] + 20);
  const error e = open_error();
  EXPECT_EQ(e.code(), errc::corruption) << e.to_string();
  EXPECT_THAT(std::string(e.message()), AllOf(HasSubstr("meta slot 0"), HasSubstr("meta slot 1")));
}

TEST_F(DurableMetaSlotTest, NewestSlotNamingARootOutsideTheFileFallsBack) {
  make_two_commits(/*power_loss=*/true);
  // A well-formed slot (valid checksum) whose tree cannot be walked: recovery must bounds-check, not read.
  const int newest = test::newest_slot(file_);
  const std::uint64_t at = mmap::meta_offsets[static_cast<unsigned>(newest)];
  std::vector<std::byte> page = test::read_bytes(file_, at, mmap::page_bytes);
  ASSERT_EQ(page.size(), mmap::page_bytes);
  const auto root = load_le<std::uint64_t>(page.data() + 24);
  store_le<std::uint64_t>(page.data() + 24, root ^ (1ULL << 40));  // far past the end of the file
  store_le<std::uint64_t>(page.data() + 4088, checksum64(std::span(page.data(), 4088)));
  test::write_bytes(file_, at, page);
  auto s = must_open(dir_, durable_options(durability::none));
  ASSERT_TRUE(s);
  expect_contents(*s, previous_);
  EXPECT_THAT(detail::store_access::impl(*s).durable()->recovery.fallback, HasSubstr("meta slot"));
}

TEST_F(DurableMetaSlotTest, NewestSlotNamingARootInsideTheFixedPagesFallsBack) {
  make_two_commits(/*power_loss=*/true);
  // A leaf "at" the first block offset: its header would lie in meta slot 1. Recovery must refuse it
  // before marking anything, not write outside its bookkeeping.
  const int newest = test::newest_slot(file_);
  const std::uint64_t at = mmap::meta_offsets[static_cast<unsigned>(newest)];
  std::vector<std::byte> page = test::read_bytes(file_, at, mmap::page_bytes);
  ASSERT_EQ(page.size(), mmap::page_bytes);
  const index::node_ref bad = index::node_ref::make(index::node_kind::leaf, mmap::first_block_offset, 0);
  store_le<std::uint64_t>(page.data() + 24, bad.bits());
  store_le<std::uint64_t>(page.data() + 32, 1);  // key count
  store_le<std::uint64_t>(page.data() + 4088, checksum64(std::span(page.data(), 4088)));
  test::write_bytes(file_, at, page);
  auto s = must_open(dir_, durable_options(durability::none));
  ASSERT_TRUE(s);
  expect_contents(*s, previous_);
  EXPECT_THAT(detail::store_access::impl(*s).durable()->recovery.fallback, HasSubstr("meta slot"));
}

// ---- Blocks ----

TEST_F(DurableCorruptionTest, FlippedLeafValueByteFailsVerifiedOpenNamingAnOffset) {
  const std::string marker = "DISTINCTIVE-VALUE-7f3a9c0e51";
  {
    // Two commits that both reach the leaf (the put's, then close's), so neither slot is a clean fallback.
    auto s = must_open(dir_, durable_options(durability::sync));
    ASSERT_TRUE(s);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(s->put_string("k" + std::to_string(i), "plain"));
    ASSERT_TRUE(s->put_string("marked", marker));
    ASSERT_TRUE(s->close());
  }
  const std::vector<std::byte> whole = test::read_whole(file_);
  const std::vector<std::byte> needle = bytes_of(marker);
  const auto hit = std::search(whole.begin(), whole.end(), needle.begin(), needle.end());
  ASSERT_NE(hit, whole.end()) << "the value is not in the file";
  ASSERT_EQ(std::search(hit + 1, whole.end(), needle.begin(), needle.end()), whole.end())
      << "the value is in the file more than once";
  const auto at = static_cast<std::uint64_t>(hit - whole.begin());
  ASSERT_GE(at, mmap::first_block_offset);
  test::flip_byte(file_, at + 5);

  options verify = durable_options(durability::none);
  verify.verify_checksums_on_open = true;
  const error e = open_error(verify);
  EXPECT_EQ(e.code(), errc::corruption) << e.to_string();
  EXPECT_THAT(std::string(e.message()), AllOf(HasSubstr("offset"), HasSubstr("checksum")));

  // Without verification open trusts the blocks (damage is found by `tessel check`): it opens.
  {
    auto s = must_open(dir_, durable_options(durability::none));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->len(), 51U);
    EXPECT_EQ(s->get_string("k3"), "plain");
  }

  // Verifying reads: the damaged leaf is refused with corruption naming it, the others read as ever, and
  // a leaf rewritten since the last commit (no checksum yet) reads without a false alarm.
  options on_read = durable_options(durability::none);
  on_read.verify_checksums_on_read = true;
  auto s = must_open(dir_, on_read);
  ASSERT_TRUE(s);
  const auto damaged = s->get(as_bytes(std::string("marked")));
  ASSERT_FALSE(damaged.has_value());
  EXPECT_EQ(damaged.error().code(), errc::corruption);
  EXPECT_THAT(std::string(damaged.error().message()), AllOf(HasSubstr("offset"), HasSubstr("checksum")));
  EXPECT_EQ(s->get_string("k3"), "plain");
  ASSERT_TRUE(s->put_string("k4", "rewritten"));
  EXPECT_EQ(s->get_string("k4"), "rewritten");
}

// ---- Truncation below the newest commit ----

class DurableTruncationTest : public DurableCorruptionTest {
 protected:
  /// A small commit A, then a commit B that adds about 300 KiB past A's frontier, then a power loss.
  void make_small_then_large() {
    auto s = must_open(dir_, durable_options(durability::none, /*power_loss=*/true));
    ASSERT_TRUE(s);
    for (int i = 0; i < 20; ++i) {
      const std::string k = "small/" + std::to_string(i);
      small_[k] = "a";
      ASSERT_TRUE(s->put_string(k, "a"));
    }
    ASSERT_TRUE(s->checkpoint());
    large_ = small_;
    for (int i = 0; i < 300; ++i) {
      const std::string k = "large/" + std::to_string(i);
      large_[k] = std::string(1000, static_cast<char>('b' + i % 20));
      ASSERT_TRUE(s->put_string(k, large_[k]));
    }
    ASSERT_TRUE(s->checkpoint());
    crash(std::move(s));
    const int newest = test::newest_slot(file_);
    small_frontier_ = test::meta_frontier(file_, 1 - newest);
    large_frontier_ = test::meta_frontier(file_, newest);
    ASSERT_LT(small_frontier_ + 200'000, large_frontier_);
  }

  /// Opens after truncation: a typed corruption error, or a store holding exactly A or B.
  void expect_fallback_or_corruption(bool must_open_small) {
    auto s = store::open(dir_, durable_options(durability::none));
    if (!s) {
      EXPECT_FALSE(must_open_small) << s.error().to_string();
      EXPECT_EQ(s.error().code(), errc::corruption) << s.error().to_string();
      return;
    }
    const test::pairs got = test::scan_all(**s);
    EXPECT_TRUE(got == test::as_pairs(small_) || got == test::as_pairs(large_))
        << "open returned " << got.size() << " entries, neither commit's contents";
    if (must_open_small) expect_contents(**s, small_);
  }

  model small_;
  model large_;
  std::uint64_t small_frontier_ = 0;
  std::uint64_t large_frontier_ = 0;
};

TEST_F(DurableTruncationTest, TruncatedBelowNewestFrontierFallsBackToTheCommitThatFits) {
  make_small_then_large();
  // Page-aligned, above A's frontier, below B's.
  test::truncate_file(file_, (small_frontier_ + 4095) / 4096 * 4096);
  expect_fallback_or_corruption(/*must_open_small=*/true);
}

TEST_F(DurableTruncationTest, TruncatedMidBlockBelowNewestFrontierNeverReturnsWrongData) {
  make_small_then_large();
  // Not page-aligned, in the middle of B's blocks.
  test::truncate_file(file_, (small_frontier_ + large_frontier_) / 2 + 3);
  expect_fallback_or_corruption(/*must_open_small=*/false);
}

TEST_F(DurableTruncationTest, TruncatedBelowEveryFrontierIsCorruption) {
  make_small_then_large();
  test::truncate_file(file_, mmap::first_block_offset + 16);
  const error e = open_error();
  EXPECT_EQ(e.code(), errc::corruption) << e.to_string();
  EXPECT_THAT(std::string(e.message()), HasSubstr("truncated"));
}

TEST_F(DurableTruncationTest, StoreFallenBackAfterTruncationToAPartialPageGrowsAndCommits) {
  make_small_then_large();
  // Not page-aligned: the region's last page is partly past the end of the file.
  const std::uint64_t cut = (small_frontier_ + large_frontier_) / 2 + 3;
  ASSERT_NE(cut % 4096, 0U);
  test::truncate_file(file_, cut);
  auto s = must_open(dir_, durable_options(durability::sync, /*power_loss=*/true));
  ASSERT_TRUE(s);
  expect_contents(*s, small_);
  // Enough new data to grow the file past the partial page, committed write by write.
  model m = small_;
  for (int i = 0; i < 2000; ++i) {
    const std::string k = "new/" + std::to_string(i);
    m[k] = std::string(500, static_cast<char>('n' + i % 7));
    auto ok = s->put_string(k, m[k]);
    ASSERT_TRUE(ok) << ok.error().to_string();
  }
  expect_contents(*s, m);
  crash(std::move(s));
  auto again = must_open(dir_, durable_options(durability::none));
  ASSERT_TRUE(again);
  expect_contents(*again, m);
}

}  // namespace
}  // namespace tessel
