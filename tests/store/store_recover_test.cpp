// recover_store (`tessel recover`) on deliberately damaged stores: what it reports matches the damage, it
// writes nothing unless asked, and after `apply` check passes and no acknowledged write is lost. Damage it
// cannot repair (a damaged block of the tree in use) is reported and refused.
#include "store/store_recover.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "pmem/pool_log.hpp"
#include "pmem/pool_region.hpp"
#include "store/pool_open.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/pmem_env.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using test::crash;
using test::expect_contents;
using test::model;
using test::must_open;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

options pool_options(durability d) {
  test::force_pmem_flush();
  options o;
  o.backend = backend::pmem;
  o.durability = d;
  o.pool_bytes = 32 << 20;
  o.log_segment_bytes = 256 << 10;
  return o;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

class StoreRecoverTest : public ::testing::Test {
 protected:
  [[nodiscard]] std::filesystem::path pool_file() const { return std::filesystem::path(dir_) / detail::pool_file_name; }
  /// Writes keys [from, to) at `o`'s durability into the store and the model, then crashes or closes.
  void write(const options& o, int from, int to, bool close) {
    auto s = must_open(dir_, o);
    ASSERT_TRUE(s);
    for (int i = from; i < to; ++i) {
      const std::string k = "key/" + std::to_string(i);
      const std::string v = "value-" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 50), 'v');
      ASSERT_TRUE(s->put_string(k, v));
      model_[k] = v;
    }
    if (close) {
      ASSERT_TRUE(s->close());
    } else {
      crash(std::move(s));
    }
  }
  /// The store holds exactly the model.
  void expect_model(const options& o) {
    options ro = o;
    ro.read_only = true;
    auto s = must_open(dir_, ro);
    ASSERT_TRUE(s);
    expect_contents(*s, model_);
  }
  /// Recovers with `apply`, expecting success; returns the report.
  recover_report recover(bool apply) {
    auto r = recover_store(dir_, apply);
    EXPECT_TRUE(r.has_value()) << r.error().to_string();
    return r ? *r : recover_report{};
  }

  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
  model model_;
};

TEST_F(StoreRecoverTest, AHealthyStoreNeedsNothingAndIsNotWritten) {
  for (const options& o : {test::durable_options(durability::none), pool_options(durability::none)}) {
    std::filesystem::remove_all(dir_);
    write(o, 0, 300, /*close=*/true);
    const std::filesystem::path file = o.backend == backend::pmem ? pool_file() : test::data_file(dir_);
    const std::uint64_t before = test::file_hash(file);
    const recover_report r = recover(/*apply=*/false);
    EXPECT_EQ(r.backend, o.backend == backend::pmem ? "pmem" : "mmap");
    EXPECT_THAT(r.repairable, IsEmpty()) << joined(r.repairable);
    EXPECT_THAT(r.damage, IsEmpty()) << joined(r.damage);
    EXPECT_EQ(test::file_hash(file), before);
  }
}

TEST_F(StoreRecoverTest, PoolLogRecordsAndATornTailAreReportedThenReplayedAndCut) {
  const options o = pool_options(durability::log);
  write(o, 0, 200, /*close=*/true);
  write(o, 200, 260, /*close=*/false);  // 60 records in the log area after the last commit
  // A torn append after them: bytes that are no whole record.
  std::uint64_t tail = 0;
  {
    auto pool = pmem::pool_region::open(pool_file(), true);
    ASSERT_TRUE(pool.has_value()) << pool.error().to_string();
    auto scan = pmem::scan_pool_log(**pool, (*pool)->root().meta.at_seq);
    ASSERT_TRUE(scan.has_value());
    ASSERT_EQ(scan->replayed, 60U);
    tail = (*pool)->root().log_offset + scan->end_offset;
  }
  test::write_bytes(pool_file(), tail, std::vector<std::byte>(24, std::byte{0xAB}));
  const std::uint64_t damaged = test::file_hash(pool_file());

  const recover_report look = recover(false);
  EXPECT_THAT(look.damage, IsEmpty()) << joined(look.damage);
  EXPECT_THAT(joined(look.repairable), HasSubstr("60 operation log records"));
  EXPECT_THAT(joined(look.repairable), HasSubstr("torn"));
  EXPECT_FALSE(look.applied);
  EXPECT_EQ(test::file_hash(pool_file()), damaged) << "without apply nothing is written";

  const recover_report fixed = recover(true);
  ASSERT_TRUE(fixed.applied);
  EXPECT_THAT(joined(fixed.actions), HasSubstr("replayed 60 log records"));
  ASSERT_TRUE(fixed.after.has_value());
  EXPECT_THAT(fixed.after->problems, IsEmpty()) << joined(fixed.after->problems);
  EXPECT_TRUE(fixed.after->log_torn_tail.empty()) << fixed.after->log_torn_tail;
  expect_model(o);
}

// At durability none nothing flushes the log's records until a sync, so a power loss can keep a later
// record whole and an earlier one in part: the pool opens with the records before the damaged one, as a
// torn tail (it used to fail with corruption, leaving the store unopenable).
TEST_F(StoreRecoverTest, APoolLogRecordDamagedBeforeWholeOnesIsATornTail) {
  const options o = pool_options(durability::none);
  write(o, 0, 200, /*close=*/true);
  write(o, 200, 260, /*close=*/false);
  std::uint64_t middle = 0;
  {
    auto pool = pmem::pool_region::open(pool_file(), true);
    ASSERT_TRUE(pool.has_value()) << pool.error().to_string();
    auto scan = pmem::scan_pool_log(**pool, (*pool)->root().meta.at_seq);
    ASSERT_TRUE(scan.has_value());
    ASSERT_EQ(scan->replayed, 60U);
    middle = (*pool)->root().log_offset + scan->end_offset / 2;
  }
  // 8 bytes: more than any padding, so they land in a record's head or body.
  test::write_bytes(pool_file(), middle, std::vector<std::byte>(8, std::byte{0xAB}));
  const recover_report look = recover(false);
  EXPECT_THAT(look.damage, IsEmpty()) << joined(look.damage);
  EXPECT_THAT(joined(look.repairable), HasSubstr("torn"));
  auto s = must_open(dir_, o);
  ASSERT_TRUE(s);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(s->contains(as_bytes("key/" + std::to_string(i)))) << "committed key " << i;
  int kept = 0;
  while (kept < 60 && s->contains(as_bytes("key/" + std::to_string(200 + kept)))) ++kept;
  EXPECT_GT(kept, 0) << "the records before the damaged one are replayed";
  EXPECT_LT(kept, 60) << "the damaged record is not";
  for (int i = 200 + kept; i < 260; ++i) EXPECT_FALSE(s->contains(as_bytes("key/" + std::to_string(i)))) << i;
}

TEST_F(StoreRecoverTest, LeakedPoolObjectsAreReportedAndFreed) {
  const options o = pool_options(durability::none);
  write(o, 0, 100, /*close=*/true);
  {
    // Published objects with no tree block in them; the clean-close flag stays, so open would not look.
    auto pool = pmem::pool_region::open(pool_file(), false);
    ASSERT_TRUE(pool.has_value()) << pool.error().to_string();
    ASSERT_NE((*pool)->allocate(64), 0U);
    ASSERT_NE((*pool)->allocate(3000), 0U);
    ASSERT_NE((*pool)->allocate(100), 0U);
    ASSERT_TRUE((*pool)->publish((*pool)->root().meta));
  }
  const recover_report look = recover(false);
  ASSERT_TRUE(look.before.pool.has_value());
  EXPECT_EQ(look.before.pool->leaked_objects, 3U);
  EXPECT_THAT(joined(look.repairable), HasSubstr("3 allocated objects"));
  EXPECT_THAT(look.damage, IsEmpty()) << joined(look.damage);

  const recover_report fixed = recover(true);
  EXPECT_THAT(joined(fixed.actions), HasSubstr("freed 3 leaked objects"));
  ASSERT_TRUE(fixed.after.has_value());
  EXPECT_THAT(fixed.after->problems, IsEmpty()) << joined(fixed.after->problems);
  EXPECT_EQ(fixed.after->pool->leaked_objects, 0U);
  expect_model(o);
}

TEST_F(StoreRecoverTest, ADamagedNewestMetaSlotFallsBackAndLosesNoLoggedWrite) {
  // close() commits the same tree twice, so the older slot's tree is whole; the writes after it are only in
  // the log, which keeps every record after the older slot's at_seq. (After a commit that freed blocks of
  // the older tree, falling back is impossible: check reports that tree as damaged.)
  const options o = test::durable_options(durability::log);
  write(o, 0, 200, /*close=*/true);
  write(o, 200, 300, /*close=*/false);
  const std::filesystem::path file = test::data_file(dir_);
  const int newest = test::newest_slot(file);
  test::flip_byte(file, mmap::meta_offsets[static_cast<unsigned>(newest)] + 20);

  const recover_report look = recover(false);
  EXPECT_THAT(joined(look.repairable), HasSubstr("meta slot unusable"));
  EXPECT_THAT(look.damage, IsEmpty()) << joined(look.damage);

  const recover_report fixed = recover(true);
  EXPECT_THAT(joined(fixed.actions), HasSubstr("opened from meta slot " + std::to_string(1 - newest)));
  ASSERT_TRUE(fixed.after.has_value());
  EXPECT_THAT(fixed.after->problems, IsEmpty()) << joined(fixed.after->problems);
  expect_model(o);
}

TEST_F(StoreRecoverTest, ADamagedLeafIsDamageThatApplyRefusesToTouch) {
  const options o = pool_options(durability::none);
  write(o, 0, 50, /*close=*/true);
  const auto whole = test::read_whole(pool_file());
  const std::string needle = "value-17";
  // The last copy is the leaf's; the log area, made first, holds the record of the write.
  const auto at = std::find_end(whole.begin(), whole.end(), reinterpret_cast<const std::byte*>(needle.data()),
                                reinterpret_cast<const std::byte*>(needle.data()) + needle.size());
  ASSERT_NE(at, whole.end());
  test::flip_byte(pool_file(), static_cast<std::uint64_t>(at - whole.begin()) + 3);
  const std::uint64_t damaged = test::file_hash(pool_file());

  const recover_report r = recover(true);
  EXPECT_THAT(joined(r.damage), HasSubstr("checksum"));
  EXPECT_FALSE(r.applied);
  EXPECT_FALSE(r.after.has_value());
  EXPECT_EQ(test::file_hash(pool_file()), damaged) << "damage it cannot repair is left as it is";
}

TEST_F(StoreRecoverTest, AStoreOpenElsewhereIsBusyAndAMissingOneNotFound) {
  write(pool_options(durability::none), 0, 10, true);
  {
    auto s = must_open(dir_, pool_options(durability::none));
    ASSERT_TRUE(s);
    const auto r = recover_store(dir_, true);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), errc::busy) << r.error().to_string();
  }
  const auto missing = recover_store(tmp_.sub("nothing"), false);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), errc::not_found);
}

}  // namespace
}  // namespace tessel
