// The kv layer under concurrent writers (label concurrency, tsan clean): 8 threads CAS-incrementing 100
// shared counters in retry loops end with exact sums, and transfer transactions between accounts keep the
// total constant -- no lost update, whatever the interleaving -- over every store configuration; and durable
// sets from two threads share fdatasyncs.
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/kv_store.hpp"

#include "store/store_impl.hpp"
#include "tests/kv/kv_test_support.hpp"
#include "tests/support/slow_syncs.hpp"

namespace tessel {
namespace {

constexpr int threads = 8;

using KvConcurrencyTest = test::kv_test;

TEST_P(KvConcurrencyTest, CasIncrementsOfSharedCountersEndWithExactSums) {
  constexpr int counters = 100;
  constexpr int increments = 150;  // per thread
  std::vector<std::thread> pool;
  std::atomic<long> conflicts{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < increments; ++i) {
        const std::string key = "/counters/" + std::to_string((t * 31 + i * 7) % counters);
        while (true) {  // read, add one, write only if nobody wrote in between
          auto cur = kv_->get(key);
          std::uint64_t version = 0;
          long value = 0;
          if (cur) {
            version = cur->version;
            value = std::stol(cur->value);
          } else if (cur.error().code() != errc::not_found) {
            ADD_FAILURE() << cur.error().to_string();
            return;
          }
          auto next = kv_->compare_and_set(key, version, std::to_string(value + 1));
          if (next) break;
          if (next.error().code() != errc::conflict) {
            ADD_FAILURE() << next.error().to_string();
            return;
          }
          ++conflicts;
        }
      }
    });
  }
  for (std::thread& t : pool) t.join();
  long total = 0;
  std::uint64_t versions = 0;
  ASSERT_TRUE(kv_->scan("/counters/", [&](std::string_view, const kv_entry& e) {
    total += std::stol(e.value);
    versions += e.version;
    return true;
  }));
  EXPECT_EQ(total, long{threads} * increments) << "an increment was lost or doubled";
  EXPECT_EQ(versions, std::uint64_t{threads} * increments) << "one version per successful CAS";
  RecordProperty("conflicts", std::to_string(conflicts.load()));
}

TEST_P(KvConcurrencyTest, TransfersKeepTheTotalConstant) {
  constexpr int accounts = 16;
  constexpr int transfers = 120;  // per thread
  std::vector<kv_op> init;
  for (int i = 0; i < accounts; ++i) init.push_back(kv_op::set("/acct/" + std::to_string(i), "1000"));
  ASSERT_TRUE(kv_->transaction(init));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < transfers; ++i) {
        const std::string from = "/acct/" + std::to_string((t + i) % accounts);
        const std::string to = "/acct/" + std::to_string((t * 5 + i * 3 + 1) % accounts);
        if (from == to) continue;
        while (true) {
          auto a = kv_->get(from);
          auto b = kv_->get(to);
          if (!a || !b) {
            ADD_FAILURE() << "reading accounts";
            return;
          }
          const long amount = 1 + (t + i) % 9;
          auto r = kv_->transaction({kv_op::check_version(from, a->version), kv_op::check_version(to, b->version),
                                     kv_op::set(from, std::to_string(std::stol(a->value) - amount)),
                                     kv_op::set(to, std::to_string(std::stol(b->value) + amount))});
          if (r) break;
          if (r.error().code() != errc::conflict) {
            ADD_FAILURE() << r.error().to_string();
            return;
          }
        }
      }
    });
  }
  long total = 0;
  for (int reads = 0; reads < 20; ++reads) {  // cuts while the transfers run
    total = 0;
    ASSERT_TRUE(kv_->scan("/acct/", [&](std::string_view, const kv_entry& e) {
      total += std::stol(e.value);
      return true;
    }));
    ASSERT_EQ(total, 1000L * accounts);
  }
  for (std::thread& t : pool) t.join();
  total = 0;
  ASSERT_TRUE(kv_->scan("/acct/", [&](std::string_view, const kv_entry& e) {
    total += std::stol(e.value);
    return true;
  }));
  EXPECT_EQ(total, 1000L * accounts);
}

INSTANTIATE_TEST_SUITE_P(Configs, KvConcurrencyTest, ::testing::ValuesIn(test::kv_configs()), test::kv_config_name);

// Durable sets from two threads into one shard share fdatasyncs: each waits for its log sync after releasing
// the shard (store/deferred_sync.hpp), so the other's record joins the sync. Before, the shard's lock was
// held through the sync: one fdatasync per set.
TEST(KvGroupCommitTest, DurableSetsFromTwoThreadsShareFdatasyncs) {
  constexpr int writers = 2;
  constexpr int sets = 150;  // per writer
  test::temp_dir tmp;
  if (!test::syncs_reach_a_disk(tmp.path().string())) GTEST_SKIP() << "fdatasync writes nothing here (tmpfs)";
  const test::kv_config one_shard{"mmap_1_shard", backend::mmap, 1, shard_mode::inline_calls, durability::log};
  auto kv = test::open_kv(one_shard, tmp.sub("kv"));
  ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
  const oplog::log_writer& log = *detail::store_access::impl((*kv)->engine().shard(0)).durable()->log;
  const std::uint64_t syncs_before = log.sync_count();
  std::vector<std::thread> pool;
  for (int t = 0; t < writers; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < sets; ++i) {
        auto r = (*kv)->set("/w" + std::to_string(t) + "/k" + std::to_string(i), "v");
        if (!r) {
          ADD_FAILURE() << r.error().to_string();
          return;
        }
      }
    });
  }
  for (std::thread& t : pool) t.join();
  const std::uint64_t syncs = log.sync_count() - syncs_before;
  std::cout << writers * sets << " durable sets from " << writers << " threads took " << syncs << " fdatasyncs\n";
  EXPECT_LT(syncs, std::uint64_t{writers * sets});
  EXPECT_EQ(log.durable_seq(), log.last_seq()) << "a set returned before it was durable";
  EXPECT_EQ((*kv)->list("/").value().size(), std::size_t{writers * sets});
}

}  // namespace
}  // namespace tessel
