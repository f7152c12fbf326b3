// A sharded store's writes wait for their log sync after releasing the shard's lock (store/deferred_sync.hpp),
// so writers of one shard share fdatasyncs, through put and through transact, single writes and batches of
// one shard (one record of its log) alike; and a transaction that read a write still owing its sync makes
// it durable before its own commit point -- writes to another shard, or to several through the coordinator
// log -- so a crash never keeps the transaction without the write it rests on. Label concurrency.
#include <atomic>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/sharded_store.hpp"

#include "store/cross_shard_batch.hpp"
#include "store/deferred_sync.hpp"
#include "store/sharded_access.hpp"
#include "store/store_impl.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/slow_syncs.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using detail::store_access;

constexpr int writers = 2;
constexpr int writes_per_writer = 150;

oplog::log_writer& shard_log(sharded_store& s, std::uint32_t shard) {
  return *store_access::impl(s.shard(shard)).durable()->log;
}

std::unique_ptr<sharded_store> open_sharded(const std::string& dir, std::uint32_t shards, bool power_loss) {
  auto s = sharded_store::open(dir, test::durable_options(durability::log, power_loss), {shards});
  EXPECT_TRUE(s.has_value()) << s.error().to_string();
  return s ? std::move(*s) : nullptr;
}

/// Two keys on different shards of `s`.
std::pair<std::string, std::string> keys_on_two_shards(const sharded_store& s) {
  const std::string first = "k/0";
  for (int i = 1;; ++i) {
    std::string other = "k/" + std::to_string(i);
    if (s.shard_of(as_bytes(other)) != s.shard_of(as_bytes(first))) return {first, other};
  }
}

/// Runs `write(thread, i, ops)` for i < writes_per_writer on each of `writers` threads (`ops` is the thread's
/// own, for transact); false once one of them returned false.
bool run_writers(const std::function<bool(int, int, std::vector<write_op>&)>& write) {
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < writers; ++t) {
    pool.emplace_back([&, t] {
      std::vector<write_op> ops;
      for (int i = 0; i < writes_per_writer && !failed; ++i) {
        if (!write(t, i, ops)) failed = true;
      }
    });
  }
  for (std::thread& th : pool) th.join();
  return !failed;
}

/// After the crash: the transaction's write ("saw seen") is there, and so is the write it read ("seen").
void expect_both_after_the_crash(const std::string& dir, const std::string& read_key, const std::string& written_key) {
  auto s = open_sharded(dir, 2, true);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->get_string(as_bytes(written_key)).value_or("missing"), "saw seen");
  EXPECT_EQ(s->get_string(as_bytes(read_key)).value_or("missing"), "seen")
      << "the transaction outlived the write it read";
}

// Before, a shard's lock was held through the write's fdatasync, so its other writer could not even append
// until the sync ended: exactly one fdatasync per write.
TEST(ShardedGroupCommitTest, WritersOfOneShardShareItsFdatasyncs) {
  test::temp_dir tmp;
  if (!test::syncs_reach_a_disk(tmp.path().string())) GTEST_SKIP() << "fdatasync writes nothing here (tmpfs)";
  auto s = open_sharded(tmp.sub("one"), 1, false);
  ASSERT_TRUE(s);
  const std::uint64_t syncs_before = shard_log(*s, 0).sync_count();
  const bool all_written = run_writers([&](int t, int i, std::vector<write_op>& ops) {
    const std::string key = "w" + std::to_string(t) + "/" + std::to_string(i);
    // Half the writes are puts, half single-key read-modify-writes: both leave their sync to after the lock.
    if (i % 2 == 0) return s->put(as_bytes(key), as_bytes(key)).has_value();
    return s
        ->transact(
            std::vector<key_view>{as_bytes(key)}, ops,
            [&](const batch_reader&, std::vector<write_op>& w) -> result<void> {
              w = {{false, key, key}};
              return {};
            },
            [] {})
        .has_value();
  });
  ASSERT_TRUE(all_written);
  const std::uint64_t writes = writers * writes_per_writer;
  const std::uint64_t syncs = shard_log(*s, 0).sync_count() - syncs_before;
  std::cout << writes << " durable writes from " << writers << " threads took " << syncs << " fdatasyncs\n";
  EXPECT_LT(syncs, writes) << "every write paid for an fdatasync of its own";
  EXPECT_EQ(shard_log(*s, 0).durable_seq(), shard_log(*s, 0).last_seq()) << "a write returned before it was durable";
  ASSERT_TRUE(s->close());
  s.reset();
  s = open_sharded(tmp.sub("one"), 1, false);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->len(), writes);
}

// The crash test's own check first: a write that has not paid its sync is gone after a power loss. Then the
// same write read by a transaction that commits on another shard: the transaction makes it durable first,
// so after the crash the write is there with the transaction that saw it. A decision that writes nothing
// commits nothing and makes nothing durable.
TEST(ShardedGroupCommitTest, ATransactionMakesTheWritesItReadDurableBeforeItCommits) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("two");
  auto s = open_sharded(dir, 2, true);
  ASSERT_TRUE(s);
  const auto [read_key, written_key] = keys_on_two_shards(*s);
  const std::uint32_t read_shard = s->shard_of(as_bytes(read_key));
  {
    detail::owed_sync owed;
    ASSERT_TRUE(detail::put_owing_sync(s->shard(read_shard), as_bytes(read_key), as_bytes("lost"), owed));
    ASSERT_FALSE(owed.empty());
    detail::sharded_access::abandon(std::move(s));
  }
  s = open_sharded(dir, 2, true);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->contains(as_bytes(read_key))) << "the crash kept a write that was never synced";

  detail::owed_sync owed;
  ASSERT_TRUE(detail::put_owing_sync(s->shard(read_shard), as_bytes(read_key), as_bytes("seen"), owed));
  oplog::log_writer& log = shard_log(*s, read_shard);
  ASSERT_LT(log.durable_seq(), log.last_seq());
  const std::vector<key_view> both{as_bytes(read_key), as_bytes(written_key)};
  std::vector<write_op> ops;
  auto read_only = s->transact(
      both, ops,
      [&](const batch_reader& r, std::vector<write_op>&) -> result<void> {
        return r.get(as_bytes(read_key)) ? result<void>{} : make_error(errc::not_found, "no read key");
      },
      [] {});
  ASSERT_TRUE(read_only) << read_only.error().to_string();
  EXPECT_LT(log.durable_seq(), log.last_seq()) << "a decision that wrote nothing waited for a sync";
  auto committed = s->transact(
      both, ops,
      [&](const batch_reader& r, std::vector<write_op>& w) -> result<void> {
        auto v = r.get(as_bytes(read_key));
        if (!v) return tl::unexpected(v.error());
        w = {{false, written_key, "saw " + to_string(*v)}};
        return {};
      },
      [] {});
  ASSERT_TRUE(committed) << committed.error().to_string();
  EXPECT_EQ(log.durable_seq(), log.last_seq());
  detail::sharded_access::abandon(std::move(s));  // the first write's sync is never paid
  expect_both_after_the_crash(dir, read_key, written_key);
}

/// A key other than `key` on `key`'s shard.
std::string other_key_on_the_shard_of(const sharded_store& s, const std::string& key) {
  for (int i = 1;; ++i) {
    std::string k = key + "/" + std::to_string(i);
    if (s.shard_of(as_bytes(k)) == s.shard_of(as_bytes(key))) return k;
  }
}

// Writes to several shards go through the coordinator log, even when one of them lands on the shard the
// decision read: its record could then be replayed after a crash that lost the write the decision saw, so
// that shard's log is made durable first too.
TEST(ShardedGroupCommitTest, ACoordinatedTransactionMakesTheWritesItReadDurableFirst) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("coordinated");
  auto s = open_sharded(dir, 2, true);
  ASSERT_TRUE(s);
  const auto [read_key, elsewhere] = keys_on_two_shards(*s);
  const std::string written_key = other_key_on_the_shard_of(*s, read_key);
  const std::uint32_t shard = s->shard_of(as_bytes(read_key));
  detail::owed_sync owed;
  ASSERT_TRUE(detail::put_owing_sync(s->shard(shard), as_bytes(read_key), as_bytes("seen"), owed));
  const std::vector<key_view> keys{as_bytes(read_key), as_bytes(written_key), as_bytes(elsewhere)};
  std::vector<write_op> ops;
  auto committed = s->transact(
      keys, ops,
      [&](const batch_reader& r, std::vector<write_op>& w) -> result<void> {
        auto v = r.get(as_bytes(read_key));
        if (!v) return tl::unexpected(v.error());
        w = {{false, written_key, "saw " + to_string(*v)}, {false, elsewhere, "too"}};
        return {};
      },
      [] {});
  ASSERT_TRUE(committed) << committed.error().to_string();
  detail::sharded_access::abandon(std::move(s));  // the first write's sync is never paid
  expect_both_after_the_crash(dir, read_key, written_key);
}

// Writes that all go to one shard are one batch record of its own log: no coordinator record, no marker,
// and -- the shard's log being a prefix -- nothing to settle first, even when the decision read a write
// still owing its sync. The record's sync is left to after the lock, as a single write's is.
TEST(ShardedGroupCommitTest, WritesOfOneShardAreOneRecordOfItsLog) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("local");
  auto s = open_sharded(dir, 2, true);
  ASSERT_TRUE(s);
  const std::string read_key = "k/0";
  const std::string written_key = other_key_on_the_shard_of(*s, read_key);
  const std::uint32_t shard = s->shard_of(as_bytes(read_key));
  oplog::log_writer& log = shard_log(*s, shard);
  detail::owed_sync owed;
  ASSERT_TRUE(detail::put_owing_sync(s->shard(shard), as_bytes(read_key), as_bytes("seen"), owed));
  const std::uint64_t seq_before = log.last_seq();
  const std::vector<key_view> both{as_bytes(read_key), as_bytes(written_key)};
  std::vector<write_op> ops;
  auto committed = s->transact(
      both, ops,
      [&](const batch_reader& r, std::vector<write_op>& w) -> result<void> {
        auto v = r.get(as_bytes(read_key));
        if (!v) return tl::unexpected(v.error());
        w = {{false, written_key, "first"}, {false, written_key, "saw " + to_string(*v)}};
        return {};
      },
      [] {});
  ASSERT_TRUE(committed) << committed.error().to_string();
  EXPECT_EQ(log.last_seq(), seq_before + 1) << "two writes of one shard took more than one record";
  EXPECT_FALSE(s->shard(shard).contains(as_bytes(detail::batch_marker_key)))
      << "a batch of one shard went through the coordinator";
  detail::sharded_access::abandon(std::move(s));
  expect_both_after_the_crash(dir, read_key, written_key);
}

// Transactions of several writes to one shard, from two threads, share the shard log's fdatasyncs as single
// writes do. Before, each synced its coordinator record under the shard's lock.
TEST(ShardedGroupCommitTest, MultiWriteTransactionsOfOneShardShareItsFdatasyncs) {
  test::temp_dir tmp;
  if (!test::syncs_reach_a_disk(tmp.path().string())) GTEST_SKIP() << "fdatasync writes nothing here (tmpfs)";
  auto s = open_sharded(tmp.sub("one"), 1, false);
  ASSERT_TRUE(s);
  oplog::log_writer& log = shard_log(*s, 0);
  const std::uint64_t syncs_before = log.sync_count();
  const std::uint64_t seq_before = log.last_seq();
  const bool all_written = run_writers([&](int t, int i, std::vector<write_op>& ops) {
    const std::string from = "from/" + std::to_string(t) + "/" + std::to_string(i);
    const std::string to = "to/" + std::to_string(t) + "/" + std::to_string(i);
    const std::vector<key_view> keys{as_bytes(from), as_bytes(to)};
    return s
        ->transact(
            keys, ops,
            [&](const batch_reader&, std::vector<write_op>& w) -> result<void> {
              w = {{false, from, "1"}, {false, to, "1"}};
              return {};
            },
            [] {})
        .has_value();
  });
  ASSERT_TRUE(all_written);
  const std::uint64_t transactions = writers * writes_per_writer;
  const std::uint64_t syncs = log.sync_count() - syncs_before;
  std::cout << transactions << " durable 2-write transactions from " << writers << " threads took " << syncs
            << " fdatasyncs\n";
  EXPECT_EQ(log.last_seq() - seq_before, transactions) << "a transaction took more than one record";
  EXPECT_LT(syncs, transactions) << "every transaction paid for an fdatasync of its own";
  EXPECT_EQ(log.durable_seq(), log.last_seq()) << "a transaction returned before it was durable";
}

// A cross-shard part's records are owed by nobody: the batch's coordinator record is durable and recovery
// re-applies the part. So transactions one after another, each reading and writing what the last one
// wrote, sync their coordinator records only -- not, on top, every shard log they hold.
TEST(ShardedGroupCommitTest, TransactionsDoNotSyncThePartsOfEarlierOnes) {
  test::temp_dir tmp;
  auto s = open_sharded(tmp.sub("parts"), 3, false);
  ASSERT_TRUE(s);
  std::vector<std::string> keys;
  std::vector<bool> used(s->shards(), false);
  for (int i = 0; keys.size() < s->shards(); ++i) {
    const std::string k = "k/" + std::to_string(i);
    const std::uint32_t home = s->shard_of(as_bytes(k));
    if (used[home]) continue;
    used[home] = true;
    keys.push_back(k);
  }
  std::vector<key_view> named;
  for (const std::string& k : keys) named.push_back(as_bytes(k));
  std::vector<std::uint64_t> syncs_before;
  for (std::uint32_t i = 0; i < s->shards(); ++i) syncs_before.push_back(shard_log(*s, i).sync_count());
  std::vector<write_op> ops;
  for (int round = 0; round < 20; ++round) {
    auto committed = s->transact(
        named, ops,
        [&](const batch_reader& r, std::vector<write_op>& w) -> result<void> {
          w.clear();
          for (const std::string& k : keys) {
            (void)r.get(as_bytes(k));  // read what the last transaction wrote
            w.push_back({false, k, std::to_string(round)});
          }
          return {};
        },
        [] {});
    ASSERT_TRUE(committed) << committed.error().to_string();
  }
  for (std::uint32_t i = 0; i < s->shards(); ++i) {
    EXPECT_EQ(shard_log(*s, i).sync_count(), syncs_before[i]) << "shard " << i << " synced parts nobody owed";
  }
}

}  // namespace
}  // namespace tessel
