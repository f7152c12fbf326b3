// A sharded store's coordinator log keeps only the cross-shard batches some shard may still need it for
// (docs/concurrency.md, "Trimming the coordinator log"): it stays a few segments long however many batches
// commit without checkpoint() or close(), and trimming it -- while writers commit and checkpoints run --
// never loses a batch a power loss could otherwise take from a shard. Label concurrency (TSan clean).
// tests/store/sharded_crash_test.cpp kills a writer while it trims.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/sharded_store.hpp"

#include "log/log_reader.hpp"
#include "store/cross_shard_batch.hpp"
#include "store/shard_manifest.hpp"
#include "store/sharded_access.hpp"
#include "store/sharded_impl.hpp"
#include "store/store_impl.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

const std::string filler(500, 'f');  // ~1.5 KB batch records: a 16 KiB segment holds about ten

/// Segment files in a sharded store's coordinator log.
std::size_t coordinator_segments(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(dir) / "txn")) {
    if (e.path().extension() == ".tlog") ++n;
  }
  return n;
}

/// Durable three-shard stores whose logs (and so the coordinator's) have `segment_bytes` segments, and
/// no time-driven checkpoint.
options small_segments(std::uint64_t segment_bytes, bool power_loss) {
  options o = test::durable_options(durability::log, power_loss);
  o.log_segment_bytes = segment_bytes;
  o.checkpoint_interval = std::chrono::hours(1);
  return o;
}

/// `n` keys starting with `prefix`, each on another shard of `s`.
std::vector<std::string> keys_on_distinct_shards(const sharded_store& s, const std::string& prefix, std::size_t n) {
  std::vector<std::string> keys;
  std::vector<bool> used(s.shards(), false);
  for (int i = 0; keys.size() < n; ++i) {
    std::string k = prefix + std::to_string(i);
    const std::uint32_t home = s.shard_of(as_bytes(k));
    if (used[home]) continue;
    used[home] = true;
    keys.push_back(std::move(k));
  }
  return keys;
}

/// Batch `n` of a writer: its keys all set to n (padded), and a key of the batch's own.
std::vector<write_op> batch(const std::vector<std::string>& keys, const std::string& own_prefix, int n) {
  std::vector<write_op> ops;
  for (const std::string& k : keys) ops.push_back({false, k, std::to_string(n) + filler});
  ops.push_back({false, own_prefix + std::to_string(n), "b"});
  return ops;
}

// Without checkpoint() or close(), a store that commits batches for hours must neither fill the disk nor
// make its recovery scan them all: only checkpoint() and close() used to delete segments (29 of 64 KiB
// here, for 600 batches).
TEST(ShardedCoordinatorTest, TheLogKeepsOnlyBatchesAShardMayStillNeed) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("sharded");
  const options o = small_segments(64 << 10, false);
  constexpr int batches = 600;
  std::vector<std::string> keys;
  std::size_t most_segments = 0;
  {
    auto s = sharded_store::open(dir, o, {3, routing::whole_key, 1});
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    keys = keys_on_distinct_shards(**s, "acct/", 3);
    for (int n = 1; n <= batches; ++n) {
      ASSERT_TRUE((*s)->write_batch(batch(keys, "own/", n)));
      most_segments = std::max(most_segments, coordinator_segments(dir));
    }
    EXPECT_LE(most_segments, detail::coordinator_segments_backlog) << "the coordinator log grew with every batch";
  }
  // What recovery and `tessel info`/`check` scan: from the first segment kept, every record decodes.
  const std::filesystem::path log_dir = std::filesystem::path(dir) / "txn";
  auto start = detail::coordinator_scan_start(log_dir);
  ASSERT_TRUE(start.has_value()) << start.error().to_string();
  EXPECT_GT(*start, 0U) << "no segment was deleted";
  auto manifest = detail::read_shard_manifest(dir);
  ASSERT_TRUE(manifest.has_value() && manifest->has_value());
  std::uint64_t kept = 0;
  auto scan = oplog::scan_log(log_dir, (*manifest)->id, *start, [&](const oplog::record_view& r) -> result<void> {
    ++kept;
    auto parts = detail::decode_batch(as_string_view(r.value));
    if (!parts) return tl::unexpected(std::move(parts.error()));
    return {};
  });
  ASSERT_TRUE(scan.has_value()) << scan.error().to_string();
  EXPECT_GT(kept, 0U);
  EXPECT_LT(kept, static_cast<std::uint64_t>(batches));
  auto s = sharded_store::open(dir, o, {});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  for (const std::string& k : keys) EXPECT_EQ((*s)->get_string(as_bytes(k)).value_or("?"), "600" + filler) << k;
  for (int n = 1; n <= batches; ++n) {
    ASSERT_TRUE((*s)->contains(as_bytes("own/" + std::to_string(n)))) << "batch " << n << " is lost";
  }
}

// The trim runs on the store's trimmer thread: once a batch has pushed the log past two segments, the
// segments go with no further batch, so no writer pays the shards' flushes (~10 ms). A power loss after
// it keeps every batch.
TEST(ShardedCoordinatorTest, TheTrimmerTrimsWhileNoBatchCommits) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("sharded");
  const options o = small_segments(16 << 10, true);
  std::vector<std::string> keys;
  int committed = 0;
  {
    auto s = sharded_store::open(dir, o, {3, routing::whole_key, 1});
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    keys = keys_on_distinct_shards(**s, "acct/", 3);
    while (coordinator_segments(dir) <= detail::coordinator_segments_kept && committed < 1000) {
      ASSERT_TRUE((*s)->write_batch(batch(keys, "own/", ++committed)));
    }
    ASSERT_GT(coordinator_segments(dir), detail::coordinator_segments_kept);
    // No batch from here on: only the trimmer can delete segments. A minute is ample for three flushes.
    for (int i = 0; i < 6000 && coordinator_segments(dir) > detail::coordinator_segments_kept; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_LE(coordinator_segments(dir), detail::coordinator_segments_kept) << "nothing trimmed the log";
    detail::sharded_access::abandon(std::move(*s));
  }
  auto s = sharded_store::open(dir, o, {});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  for (const std::string& k : keys) {
    EXPECT_EQ((*s)->get_string(as_bytes(k)).value_or("?"), std::to_string(committed) + filler) << k;
  }
  for (int n = 1; n <= committed; ++n) {
    ASSERT_TRUE((*s)->contains(as_bytes("own/" + std::to_string(n)))) << "batch " << n << " is lost";
  }
}

// Two writers commit cross-shard batches (parts applied at durability none, so a power loss takes every
// part its shard's log did not sync) while trims, and for the first half checkpoint(), delete coordinator
// segments. After a
// power loss every acknowledged batch is whole: its counters, and its own key. A trim or checkpoint that
// dropped a record before the shards held its parts durably loses batches here.
TEST(ShardedCoordinatorTest, TrimsAndCheckpointsKeepEveryBatchAcrossAPowerLoss) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("sharded");
  const options o = small_segments(16 << 10, true);
  constexpr std::size_t writers = 2;
  constexpr int batches = 150;
  std::vector<std::vector<std::string>> keys(writers);
  {
    auto opened = sharded_store::open(dir, o, {3, routing::whole_key, 1});
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    std::unique_ptr<sharded_store> s = std::move(*opened);
    for (std::size_t t = 0; t < writers; ++t) keys[t] = keys_on_distinct_shards(*s, "w" + std::to_string(t) + "/", 2);
    std::atomic<int> committed{0};
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < writers; ++t) {
      threads.emplace_back([&, t] {
        for (int n = 1; n <= batches && !failed; ++n) {
          if (!s->write_batch(batch(keys[t], "own/" + std::to_string(t) + "/", n))) failed = true;
          ++committed;
        }
      });
    }
    // Checkpoints during the first half only: in the second, trims alone decide what the crash keeps.
    threads.emplace_back([&] {
      while (committed < batches && !failed) {
        if (!s->checkpoint()) failed = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
    for (std::thread& th : threads) th.join();
    ASSERT_FALSE(failed) << "a batch or checkpoint failed";
    EXPECT_LE(coordinator_segments(dir), detail::coordinator_segments_backlog);
    detail::sharded_access::abandon(std::move(s));
  }
  auto s = sharded_store::open(dir, o, {});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  for (std::size_t t = 0; t < writers; ++t) {
    for (const std::string& k : keys[t]) {
      EXPECT_EQ((*s)->get_string(as_bytes(k)).value_or("?"), std::to_string(batches) + filler) << k;
    }
    for (int n = 1; n <= batches; ++n) {
      const std::string own = "own/" + std::to_string(t) + "/" + std::to_string(n);
      ASSERT_TRUE((*s)->contains(as_bytes(own))) << "batch " << n << " of writer " << t << " is lost";
    }
  }
}

// A batch that failed past its commit point may have parts missing until the reopen finishes it from its
// record: from then on neither checkpoint(), close() nor a trim may delete coordinator segments (close()
// used to drop every record through the last).
TEST(ShardedCoordinatorTest, AfterABatchFailsPastItsCommitPointEveryRecordStays) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("sharded");
  const options o = small_segments(16 << 10, false);
  std::vector<std::string> keys;
  int committed = 0;
  {
    auto s = sharded_store::open(dir, o, {3, routing::whole_key, 1});
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    keys = keys_on_distinct_shards(**s, "acct/", 3);
    while (coordinator_segments(dir) < 2 && committed < 100)
      ASSERT_TRUE((*s)->write_batch(batch(keys, "own/", ++committed)));
    const std::size_t segments = coordinator_segments(dir);
    ASSERT_EQ(segments, 2U);
    detail::sharded_access::fail_batches(**s, error(errc::io_error, "a part that could not be applied"));
    EXPECT_TRUE((*s)->batch_failed());
    const auto refused = (*s)->write_batch(batch(keys, "own/", committed + 1));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), errc::fatal);
    (void)(*s)->checkpoint();
    EXPECT_EQ(coordinator_segments(dir), segments) << "checkpoint() dropped records of a store with a failed batch";
    (void)(*s)->close();
    EXPECT_EQ(coordinator_segments(dir), segments) << "close() dropped records of a store with a failed batch";
  }
  auto s = sharded_store::open(dir, o, {});
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_FALSE((*s)->batch_failed()) << "the reopen finished the batches";
  for (int n = 1; n <= committed; ++n) {
    ASSERT_TRUE((*s)->contains(as_bytes("own/" + std::to_string(n)))) << "batch " << n << " is lost";
  }
}

}  // namespace
}  // namespace tessel
