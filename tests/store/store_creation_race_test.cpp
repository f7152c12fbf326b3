// Two handles creating a store in one new directory at once (mmap file, pmem pool, sharded): exactly one
// gets the store and the other busy, and what the winner writes is in the store the next opening finds.
// Before the creation lock (lock_store_creation), the loser could rename its new file over the winner's,
// open and written to, or delete the winner's half-made shards as leftovers of a crash: acknowledged
// writes went into files that no longer had a name.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/options.hpp"
#include "tessel/sharded_store.hpp"
#include "tessel/store.hpp"

#include "tests/support/pmem_env.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

constexpr int rounds = 12;

/// One opening of `path` by two threads released together; returns what each got.
template <class Store>
std::vector<result<std::unique_ptr<Store>>> open_twice_at_once(
    const std::function<result<std::unique_ptr<Store>>()>& open) {
  std::vector<result<std::unique_ptr<Store>>> got;
  for (int t = 0; t < 2; ++t) got.emplace_back(make_error(errc::aborted, "not run"));
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      got[t] = open();
    });
  }
  for (auto& th : threads) th.join();
  return got;
}

/// Exactly one opening won; the other was told busy. Returns the winner's index, or -1 after a failure.
template <class Store>
int winner_of(const std::vector<result<std::unique_ptr<Store>>>& got, int round) {
  int winner = -1;
  for (int t = 0; t < 2; ++t) {
    const auto& r = got[static_cast<std::size_t>(t)];
    if (r) {
      EXPECT_EQ(winner, -1) << "round " << round << ": both handles opened the store";
      winner = t;
    } else {
      EXPECT_EQ(r.error().code(), errc::busy) << "round " << round << ": " << r.error().to_string();
    }
  }
  EXPECT_NE(winner, -1) << "round " << round << ": neither handle opened the store";
  return winner;
}

void expect_one_store_per_race(const options& o) {
  for (int round = 0; round < rounds; ++round) {
    test::temp_dir tmp;
    const std::string dir = tmp.sub("s");
    auto got = open_twice_at_once<store>([&] { return store::open(dir, o); });
    const int winner = winner_of(got, round);
    if (winner < 0) return;
    store& s = **got[static_cast<std::size_t>(winner)];
    ASSERT_TRUE(s.put(as_bytes(std::string("/won")), as_bytes(std::string("yes")), durability::sync));
    ASSERT_TRUE(s.close());
    got.clear();
    options again = o;
    again.mode = open_mode::open_existing;
    auto reopened = store::open(dir, again);
    ASSERT_TRUE(reopened) << reopened.error().to_string();
    auto v = (*reopened)->get_string("/won");
    ASSERT_TRUE(v) << "round " << round << ": the winner's acknowledged write is gone";
    EXPECT_EQ(*v, "yes");
  }
}

TEST(StoreCreationRaceTest, TwoHandlesCreatingAnMmapStoreGetOneStore) {
  options o;
  o.backend = backend::mmap;
  expect_one_store_per_race(o);
}

TEST(StoreCreationRaceTest, TwoHandlesCreatingAPoolGetOneStore) {
  test::force_pmem_flush();
  options o;
  o.backend = backend::pmem;
  o.pool_bytes = 16 << 20;
  expect_one_store_per_race(o);
}

TEST(StoreCreationRaceTest, TwoHandlesCreatingAShardedStoreGetOneStore) {
  options o;
  o.backend = backend::mmap;
  shard_options s;
  s.shards = 2;
  for (int round = 0; round < rounds; ++round) {
    test::temp_dir tmp;
    const std::string dir = tmp.sub("s");
    auto got = open_twice_at_once<sharded_store>([&] { return sharded_store::open(dir, o, s); });
    const int winner = winner_of(got, round);
    if (winner < 0) return;
    sharded_store& st = **got[static_cast<std::size_t>(winner)];
    for (const char* key : {"/won/a", "/won/b", "/won/c", "/won/d"}) {
      ASSERT_TRUE(st.put(as_bytes(std::string(key)), as_bytes(std::string("yes"))));
    }
    ASSERT_TRUE(st.close());
    got.clear();
    options again = o;
    again.mode = open_mode::open_existing;
    auto reopened = sharded_store::open(dir, again, s);
    ASSERT_TRUE(reopened) << reopened.error().to_string();
    for (const char* key : {"/won/a", "/won/b", "/won/c", "/won/d"}) {
      auto v = (*reopened)->get_string(as_bytes(std::string(key)));
      ASSERT_TRUE(v) << "round " << round << ": the winner's write of " << key << " is gone";
      EXPECT_EQ(*v, "yes");
    }
  }
}

}  // namespace
}  // namespace tessel
