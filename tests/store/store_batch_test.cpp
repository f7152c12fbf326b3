// A store's atomic batch of writes (detail::write_batch_owing_sync): one record of kind batch in the
// operation log, so a crash keeps all of its writes or none -- after its sync, before it, and when its
// record is torn; a batch the store has no room for is a no_space that changed nothing; and a write that
// fails halfway through makes the store refuse writes until a reopen takes it back to before the batch.
// Label crash.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "log/segment.hpp"
#include "store/deferred_sync.hpp"
#include "store/log_recovery.hpp"
#include "store/store_check.hpp"
#include "store/store_impl.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using detail::batch_op;
using detail::store_access;
using test::crash;
using test::expect_contents;
using test::must_open;

std::uint64_t last_seq(store& s) { return store_access::impl(s).durable()->log->last_seq(); }

/// Runs the batch and waits for its sync.
result<void> write_batch(store& s, const std::vector<batch_op>& ops) {
  detail::owed_sync owed;
  if (auto ok = detail::write_batch_owing_sync(s, ops, owed); !ok) return ok;
  return owed.pay();
}

/// The store's state before each test's batch: "stays" and "goes" (which the batch erases).
class StoreBatchTest : public ::testing::Test {
 protected:
  std::unique_ptr<store> open_before_batch(bool power_loss) {
    auto s = must_open(dir_, test::durable_options(durability::log, power_loss));
    if (!s) return nullptr;
    EXPECT_TRUE(s->put_string("stays", "1"));
    EXPECT_TRUE(s->put_string("goes", "2"));
    return s;
  }
  /// Reopens the store a test crashed (with simulate_power_loss) and checks it holds exactly `m`.
  void expect_after_power_loss(const test::model& m) {
    auto s = must_open(dir_, test::durable_options(durability::log, true));
    ASSERT_TRUE(s);
    expect_contents(*s, m);
  }
  const std::vector<batch_op> batch_{{false, "a", "x"}, {false, "b", "y"}, {true, "goes", ""}, {false, "a", "z"}};
  const test::model after_batch_{{"a", "z"}, {"b", "y"}, {"stays", "1"}};
  const test::model before_batch_{{"goes", "2"}, {"stays", "1"}};

  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
};

TEST_F(StoreBatchTest, ABatchIsOneLogRecordAndSurvivesAPowerLossWhole) {
  {
    auto s = open_before_batch(true);
    ASSERT_TRUE(s);
    const std::uint64_t before = last_seq(*s);
    auto ok = write_batch(*s, batch_);
    ASSERT_TRUE(ok) << ok.error().to_string();
    EXPECT_EQ(last_seq(*s), before + 1) << "four writes took more than one record";
    expect_contents(*s, after_batch_);
    crash(std::move(s));
  }
  // `tessel check` reads the batch record as one valid record to replay.
  auto report = check_store(dir_);
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
  EXPECT_EQ(report->log_records_to_replay, 3U) << "two puts and the batch";
  expect_after_power_loss(after_batch_);
}

TEST_F(StoreBatchTest, ABatchWhoseSyncWasNotPaidIsLostWhole) {
  {
    auto s = open_before_batch(true);
    ASSERT_TRUE(s);
    detail::owed_sync owed;
    ASSERT_TRUE(detail::write_batch_owing_sync(*s, batch_, owed));
    ASSERT_FALSE(owed.empty()) << "durability log leaves the batch's sync to its caller";
    crash(std::move(s));
  }
  expect_after_power_loss(before_batch_);
}

// A crash in the middle of writing the record: recovery finds it torn and cuts it, so none of its writes
// is replayed, and the store goes on from the state before it.
TEST_F(StoreBatchTest, ATornBatchRecordReplaysNoneOfItsWrites) {
  {
    auto s = open_before_batch(false);
    ASSERT_TRUE(s);
    ASSERT_TRUE(write_batch(*s, batch_));
    crash(std::move(s));
  }
  auto segments = oplog::list_segments(detail::log_directory(dir_));
  ASSERT_TRUE(segments);
  ASSERT_FALSE(segments->empty());
  const std::filesystem::path last = segments->back().path;
  const std::vector<std::byte> bytes = test::read_whole(last);
  std::size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == std::byte{0}) --end;
  ASSERT_GT(end, oplog::segment_header_bytes + oplog::record_min_bytes);
  // The batch is the segment's last record: zero its last bytes, as a write cut short would leave it.
  test::write_bytes(last, end - 6, std::vector<std::byte>(6, std::byte{0}));

  auto s = must_open(dir_, test::durable_options(durability::log));
  ASSERT_TRUE(s);
  expect_contents(*s, before_batch_);
  ASSERT_TRUE(s->put_string("next", "3")) << "the store takes writes after the cut";
}

// Room is made before the first write: a batch the store has no room for is a plain no_space that changed
// nothing, and the store goes on.
TEST_F(StoreBatchTest, ABatchWithoutRoomIsNoSpaceAndChangesNothing) {
  options o = test::durable_options(durability::log);
  o.reserve_bytes = 4u << 20;
  const std::string big(256 * 1024, 'v');
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back("big/" + std::to_string(i));
  std::vector<batch_op> too_big{{false, "small", "1"}};
  for (const std::string& k : keys) too_big.push_back({false, k, big});
  {
    auto s = must_open(dir_, o);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_string("stays", "1"));
    auto failed = write_batch(*s, too_big);
    ASSERT_FALSE(failed) << "64 values of 256 KiB fit in 4 MiB";
    EXPECT_EQ(failed.error().code(), errc::no_space) << failed.error().to_string();
    expect_contents(*s, {{"stays", "1"}});
    ASSERT_TRUE(s->put_string("later", "2")) << "a batch without room broke the store";
    ASSERT_TRUE(s->close());
  }
  auto s = must_open(dir_, o);
  ASSERT_TRUE(s);
  expect_contents(*s, {{"later", "2"}, {"stays", "1"}});
}

// A write that fails after others of its batch changed the tree: here the room was there only in freed
// small blocks, which the first write can use and the batch's large value cannot. Nothing logs the first
// write, so the store refuses writes (and commits) until it is reopened, which goes back to before the batch.
TEST_F(StoreBatchTest, AFailureHalfwayRefusesWritesUntilAReopenGoesBackToBeforeTheBatch) {
  options o = test::durable_options(durability::log);
  o.reserve_bytes = 16u << 20;
  const std::string filler(1000, 'f');
  {
    auto s = must_open(dir_, o);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_string("stays", "1"));
    // Fill the region's frontier to its last 1.5 MiB with small leaves, then free them all.
    int filled = 0;
    // (Durability none: a sync per write would take seconds, and the checkpoint makes them durable.)
    for (; s->memory().committed_bytes + (3u << 19) < o.reserve_bytes; ++filled) {
      ASSERT_TRUE(s->put(as_bytes("fill/" + std::to_string(filled)), as_bytes(filler), durability::none));
    }
    for (int i = 0; i < filled; ++i) ASSERT_TRUE(s->erase(as_bytes("fill/" + std::to_string(i)), durability::none));
    ASSERT_TRUE(s->checkpoint());
    ASSERT_GT(s->memory().free_bytes, std::size_t{8} << 20);

    auto failed = write_batch(*s, {{false, "small", "1"}, {false, "big", std::string(2u << 20, 'b')}});
    ASSERT_FALSE(failed) << "a 2 MiB value found room";
    EXPECT_EQ(failed.error().code(), errc::fatal) << failed.error().to_string();
    EXPECT_NE(failed.error().message().find("a batch failed after 1 of its 2 writes"), std::string_view::npos)
        << failed.error().to_string();
    auto refused = s->put_string("later", "2");
    ASSERT_FALSE(refused) << "a store holding half a batch took a write";
    EXPECT_EQ(refused.error().code(), errc::fatal);
    EXPECT_FALSE(s->close()) << "close committed half a batch";
  }
  auto s = must_open(dir_, o);
  ASSERT_TRUE(s);
  expect_contents(*s, {{"stays", "1"}});
  ASSERT_TRUE(s->put_string("later", "2"));
}

TEST_F(StoreBatchTest, KeysAndValuesPastTheLimitsAreRefusedBeforeAnyWrite) {
  auto s = must_open(dir_, test::durable_options(durability::log));
  ASSERT_TRUE(s);
  const std::string long_key(max_key_size + 1, 'k');
  auto refused = write_batch(*s, {{false, "first", "1"}, {false, long_key, "2"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), errc::invalid_argument);
  EXPECT_EQ(s->len(), 0U);
  EXPECT_TRUE(s->put_string("first", "1")) << "a refused batch broke the store";
}

// ---- The public store::write_batch ----

const std::vector<write_op> public_batch{{false, "a", "x"}, {false, "b", "y"}, {true, "goes", ""}, {false, "a", "z"}};

TEST_F(StoreBatchTest, WriteBatchIsOneRecordDurableWhenItReturns) {
  {
    auto s = open_before_batch(true);
    ASSERT_TRUE(s);
    const std::uint64_t before = last_seq(*s);
    auto ok = s->write_batch(public_batch);
    ASSERT_TRUE(ok) << ok.error().to_string();
    EXPECT_EQ(last_seq(*s), before + 1);
    const oplog::log_writer& log = *store_access::impl(*s).durable()->log;
    EXPECT_EQ(log.durable_seq(), log.last_seq()) << "write_batch returned before its record was durable";
    expect_contents(*s, after_batch_);
    crash(std::move(s));
  }
  expect_after_power_loss(after_batch_);
}

TEST_F(StoreBatchTest, WriteBatchAtDurabilityNoneIsNotSyncedAndAPowerLossTakesItWhole) {
  {
    auto s = open_before_batch(true);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->write_batch(public_batch, durability::none));
    const oplog::log_writer& log = *store_access::impl(*s).durable()->log;
    EXPECT_LT(log.durable_seq(), log.last_seq()) << "durability none waited for a sync";
    expect_contents(*s, after_batch_);
    crash(std::move(s));
  }
  expect_after_power_loss(before_batch_);
}

TEST(StoreWriteBatchDramTest, AppliesInOrderAndRefusesBadBatchesWhole) {
  auto s = store::open(options{});
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->put_string("goes", "2"));
  ASSERT_TRUE((*s)->write_batch(public_batch));
  expect_contents(**s, {{"a", "z"}, {"b", "y"}});
  ASSERT_TRUE((*s)->write_batch(std::vector<write_op>{})) << "an empty batch is nothing to do";
  const std::vector<write_op> bad{{false, "c", "1"}, {false, std::string(max_key_size + 1, 'k'), "2"}};
  auto refused = (*s)->write_batch(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), errc::invalid_argument);
  expect_contents(**s, {{"a", "z"}, {"b", "y"}});
}

TEST(StoreBatchDramTest, ABatchWithoutRoomIsNoSpace) {
  options o;
  o.reserve_bytes = 2u << 20;
  auto s = store::open(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->put_string("stays", "1"));
  const std::string big(64 * 1024, 'v');
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back("big/" + std::to_string(i));
  std::vector<batch_op> ops;
  for (const std::string& k : keys) ops.push_back({false, k, big});
  detail::owed_sync owed;
  auto failed = detail::write_batch_owing_sync(**s, ops, owed);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), errc::no_space) << failed.error().to_string();
  EXPECT_TRUE(owed.empty());
  expect_contents(**s, {{"stays", "1"}});
}

}  // namespace
}  // namespace tessel
