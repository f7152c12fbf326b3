// The kv layer under concurrent writers (label concurrency, tsan clean): 8 threads CAS-incrementing 100
// shared counters in retry loops end with exact sums, and transfer transactions between accounts keep the
// total constant -- no lost update, whatever the interleaving -- over every store configuration.
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/kv_store.hpp"

#include "tests/kv/kv_test_support.hpp"

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

}  // namespace
}  // namespace tessel
