// A durable store with its operation log: writes acknowledged at durability log survive a crash that loses
// everything not synced (power-loss simulation) and come back by replay; a torn log tail is cut, never
// replayed; checkpoints drop the log the meta slots no longer need; concurrent logged writers all survive.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "store/store_check.hpp"
#include "store/store_impl.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using detail::store_access;

options durable_options(durability level) {
  options o;
  o.backend = backend::mmap;
  o.durability = level;
  o.simulate_power_loss = true;
  o.log_segment_bytes = 64 << 10;
  return o;
}

std::unique_ptr<store> open_store(const std::string& dir, const options& o) {
  auto s = store::open(dir, o);
  if (!s) {
    ADD_FAILURE() << "open: " << s.error().to_string();
    return nullptr;
  }
  return std::move(*s);
}

std::map<std::string, std::string> contents(store& s) {
  std::map<std::string, std::string> out;
  auto c = s.new_cursor();
  for (c.seek_to_first(); c.valid(); c.next()) out.emplace(to_string(c.key()), to_string(c.value()));
  return out;
}

std::size_t segment_files(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "log")) n += e.path().extension() == ".tlog";
  return n;
}

TEST(DurableLogTest, LoggedWritesSurviveACrashByReplay) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  std::map<std::string, std::string> model;
  {
    auto s = open_store(dir, durable_options(durability::log));
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 600; ++i) {
      const std::string k = "key" + std::to_string(i * 7919 % 1000);
      const std::string v = "value" + std::to_string(i);
      ASSERT_TRUE(s->put_string(k, v).has_value());
      model[k] = v;
      if (i % 5 == 0) {
        const std::string gone = "key" + std::to_string(i * 31 % 1000);
        ASSERT_TRUE(s->erase(as_bytes(gone)).has_value());
        model.erase(gone);
      }
    }
    store_access::abandon(std::move(s));  // no commit: only the synced log holds these writes
  }
  auto s = open_store(dir, durable_options(durability::log));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(contents(*s), model);
  EXPECT_GT(store_access::impl(*s).durable()->replayed_records, 600u);
  EXPECT_TRUE(s->checkpoint().has_value());
}

TEST(DurableLogTest, ValuesReadFromTheStoreAreLoggedWhole) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  {
    auto s = open_store(dir, durable_options(durability::log));
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->put_string("a", std::string(200, 'x')).has_value());
    ASSERT_TRUE(s->checkpoint().has_value());  // "a" is now in an immutable block an overwrite retires
    for (int i = 0; i < 3; ++i) {
      const auto v = s->get(as_bytes(std::string("a")));
      ASSERT_TRUE(v.has_value());
      ASSERT_TRUE(s->put(as_bytes(std::string("b") + std::to_string(i)), *v).has_value());
      const auto again = s->get(as_bytes(std::string("a")));
      ASSERT_TRUE(again.has_value());
      ASSERT_TRUE(s->put(as_bytes(std::string("a")), *again).has_value());
    }
    store_access::abandon(std::move(s));  // only the log holds the writes after the checkpoint
  }
  auto s = open_store(dir, durable_options(durability::log));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(store_access::impl(*s).durable()->replayed_records, 6u);
  for (const char* k : {"a", "b0", "b1", "b2"}) EXPECT_EQ(s->get_string(k).value_or(""), std::string(200, 'x')) << k;
}

TEST(DurableLogTest, UnsyncedWritesAreLostWholeAndATornTailIsCut) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  std::map<std::string, std::string> synced;
  std::vector<std::pair<std::string, std::string>> later;
  {
    auto s = open_store(dir, durable_options(durability::log));
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(s->put_string("a" + std::to_string(i), std::string(100, 'x')).has_value());
      synced["a" + std::to_string(i)] = std::string(100, 'x');
    }
    for (int i = 0; i < 50; ++i) {
      later.emplace_back("b" + std::to_string(i), std::string(100, 'y'));
      ASSERT_TRUE(s->put(as_bytes(later.back().first), as_bytes(later.back().second), durability::none).has_value());
    }
    // A crash that tears the log: part of the unsynced records reach the file, the last one cut midway.
    store_access::impl(*s).durable()->log->abandon(37 * 141 + 70);
    store_access::abandon(std::move(s));
  }
  auto s = open_store(dir, durable_options(durability::log));
  ASSERT_NE(s, nullptr);
  const auto got = contents(*s);
  // Every synced write, then a prefix of the later ones, each whole.
  for (const auto& [k, v] : synced) EXPECT_EQ(got.count(k), 1u) << k;
  std::size_t prefix = 0;
  while (prefix < later.size() && got.count(later[prefix].first) == 1) {
    EXPECT_EQ(got.at(later[prefix].first), later[prefix].second);
    ++prefix;
  }
  EXPECT_EQ(got.size(), synced.size() + prefix) << "only a prefix of the unsynced writes may survive";
  EXPECT_LT(prefix, later.size());
  // The store goes on: the cut tail is gone and new writes follow.
  ASSERT_TRUE(s->put_string("after", "crash").has_value());
  store_access::abandon(std::move(s));
  auto again = open_store(dir, durable_options(durability::log));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->get_string("after").value_or(""), "crash");
  EXPECT_EQ(again->len(), got.size() + 1);
}

TEST(DurableLogTest, FlushMakesEarlierWritesAtDurabilityNoneDurable) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  {
    auto s = open_store(dir, durable_options(durability::none));
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(s->put_string("f" + std::to_string(i), "flushed").has_value());
    ASSERT_TRUE(s->flush().has_value());
    ASSERT_TRUE(s->put_string("after", "lost").has_value());  // not flushed: a crash may lose it
    store_access::abandon(std::move(s));
  }
  auto s = open_store(dir, durable_options(durability::none));
  ASSERT_NE(s, nullptr);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s->get_string("f" + std::to_string(i)).value_or(""), "flushed") << i;
  EXPECT_FALSE(s->contains(as_bytes(std::string("after")))) << "power loss keeps only what was synced";
}

// Writes at durability none stay in the log's buffer while rollovers create the next segments; a crash
// loses the buffer and leaves those segments empty. The store opens with what was flushed (it used to be
// `corruption`: the empty segments' names skip the lost seqs) and goes on writing.
TEST(DurableLogTest, ACrashAfterRolloversOfUnwrittenRecordsLosesOnlyThem) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  options o = durable_options(durability::none);
  o.log_segment_bytes = 4096;
  {
    auto s = open_store(dir, o);
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->put_string("f" + std::to_string(i), "flushed").has_value());
    ASSERT_TRUE(s->flush().has_value());
    for (int i = 0; segment_files(dir) < 4; ++i) {
      ASSERT_TRUE(s->put_string("u" + std::to_string(i), std::string(200, 'u')).has_value());
    }
    store_access::abandon(std::move(s));
  }
  auto s = open_store(dir, o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(contents(*s).size(), 10U) << "only the flushed writes survive a power loss";
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s->get_string("f" + std::to_string(i)).value_or(""), "flushed") << i;
  ASSERT_TRUE(s->put_string("after", "crash").has_value());
  ASSERT_TRUE(s->flush().has_value());
  store_access::abandon(std::move(s));
  auto again = open_store(dir, o);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->get_string("after").value_or(""), "crash");
}

TEST(DurableLogTest, ThePolicyCheckpointsByLogSizeAndByTime) {
  test::temp_dir tmp;
  auto generation = [](store& s) { return store_access::impl(s).durable()->committer->durable().generation; };
  {
    options o = durable_options(durability::none);
    o.checkpoint_log_bytes = 4096;
    o.checkpoint_interval = std::chrono::milliseconds(0);
    auto s = open_store(tmp.sub("by-size"), o);
    ASSERT_NE(s, nullptr);
    const std::uint64_t before = generation(*s);
    for (int i = 0; i < 60; ++i) ASSERT_TRUE(s->put_string("k" + std::to_string(i), std::string(100, 'v')).has_value());
    store_access::wait_for_checkpoints(*s);  // they run on the store's checkpointer thread
    EXPECT_GE(generation(*s), before + 1) << "7 KiB of log since the last commit, past the 4 KiB threshold";
  }
  {
    options o = durable_options(durability::none);
    o.checkpoint_interval = std::chrono::milliseconds(1);
    auto s = open_store(tmp.sub("by-time"), o);
    ASSERT_NE(s, nullptr);
    const std::uint64_t before = generation(*s);
    ASSERT_TRUE(s->put_string("first", "v").has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(s->put_string("second", "v").has_value());
    store_access::wait_for_checkpoints(*s);
    EXPECT_EQ(generation(*s), before + 1) << "the write after the interval commits";
  }
}

TEST(DurableLogTest, CheckpointsDropTheLogTheMetaSlotsNoLongerNeed) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  auto s = open_store(dir, durable_options(durability::log));
  ASSERT_NE(s, nullptr);
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(s->put_string("k" + std::to_string(i), std::string(64, 'v')).has_value());
  EXPECT_GT(segment_files(dir), 2u) << "64 KiB segments roll over";
  ASSERT_TRUE(s->checkpoint().has_value());
  ASSERT_TRUE(s->put_string("one", "more").has_value());
  ASSERT_TRUE(s->checkpoint().has_value());
  EXPECT_LE(segment_files(dir), 2u);
  ASSERT_TRUE(s->close().has_value());
}

TEST(DurableLogTest, ConcurrentLoggedWritersAllSurviveACrash) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  constexpr int threads = 4;
  constexpr int per_thread = 100;
  {
    auto s = open_store(dir, durable_options(durability::log));
    ASSERT_NE(s, nullptr);
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          if (!s->put_string("t" + std::to_string(t) + "/" + std::to_string(i), "v")) ++failures;
        }
      });
    }
    for (auto& w : writers) w.join();
    EXPECT_EQ(failures.load(), 0);
    store_access::abandon(std::move(s));
  }
  auto s = open_store(dir, durable_options(durability::log));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->len(), std::size_t{threads * per_thread});
}

}  // namespace
}  // namespace tessel

namespace tessel {
namespace {

TEST(CleanCloseTest, OpenAfterACleanCloseSkipsTheWalkAndAfterACrashWalks) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  std::map<std::string, std::string> model;
  {
    auto s = open_store(dir, durable_options(durability::none));
    ASSERT_NE(s, nullptr);
    // Churn, so there is free space to record: inserts, overwrites of other sizes, erases, checkpoints.
    for (int i = 0; i < 4000; ++i) {
      const std::string k = "k" + std::to_string(i % 1500);
      const std::string v(static_cast<std::size_t>(10 + i % 90), static_cast<char>('a' + i % 26));
      ASSERT_TRUE(s->put_string(k, v).has_value());
      model[k] = v;
      if (i % 7 == 0) {
        ASSERT_TRUE(s->erase(as_bytes(k)).has_value());
        model.erase(k);
      }
      if (i % 1000 == 999) {
        ASSERT_TRUE(s->checkpoint().has_value());
      }
    }
    ASSERT_TRUE(s->close().has_value());
  }
  // check: every byte below the frontier is reachable, recorded free, or the record -- exactly one.
  auto report = check_store(dir);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
  EXPECT_TRUE(report->clean_close);
  EXPECT_GT(report->recorded_free_bytes, 0u);

  std::size_t live_after_clean_open = 0;
  {
    auto s = open_store(dir, durable_options(durability::none));
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(store_access::impl(*s).durable()->recovery.from_free_table);
    EXPECT_EQ(contents(*s), model);
    live_after_clean_open = s->memory().live_bytes;
    // Writes go into the recorded free space; then a crash.
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(s->put_string("new" + std::to_string(i), "value").has_value());
      model["new" + std::to_string(i)] = "value";
    }
    ASSERT_TRUE(s->checkpoint().has_value());
    store_access::abandon(std::move(s));
  }
  auto s = open_store(dir, durable_options(durability::none));
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(store_access::impl(*s).durable()->recovery.from_free_table) << "after a crash open walks the tree";
  EXPECT_EQ(contents(*s), model);
  EXPECT_GT(s->memory().live_bytes, live_after_clean_open);
  ASSERT_TRUE(s->close().has_value());
}

}  // namespace
}  // namespace tessel

namespace tessel {
namespace {

// Writes from several threads serialise inside a durable store, lookups of erase and get_or_insert
// included (TSan checks there is no race).
TEST(DurableWritersTest, ConcurrentPutEraseAndGetOrInsertSerialise) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  {
    auto s = open_store(dir, durable_options(durability::none));
    ASSERT_NE(s, nullptr);
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < 300; ++i) {
          const std::string k = "k" + std::to_string((i + t * 7) % 50);
          const std::string gone = "k" + std::to_string((i + 25) % 50);
          const std::string once = "once" + std::to_string(i % 40);
          if (!s->put_string(k, "v" + std::to_string(t))) ++failures;
          if (!s->erase(as_bytes(gone))) ++failures;
          auto v = s->get_or_insert(as_bytes(once), as_bytes(std::string("first")));
          if (!v || to_string(*v) != "first") ++failures;
        }
      });
    }
    for (auto& w : writers) w.join();
    EXPECT_EQ(failures.load(), 0);
    for (int i = 0; i < 40; ++i) EXPECT_EQ(s->get_string("once" + std::to_string(i)).value_or(""), "first");
    ASSERT_TRUE(s->close().has_value());
  }
  auto report = check_store(dir);
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->problems.empty());
}

}  // namespace
}  // namespace tessel
