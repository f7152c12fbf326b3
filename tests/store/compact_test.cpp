// store::compact: the contents survive unchanged in memory and on disk (a reopen, a crash after it, and
// writes after it), snapshots keep what they froze, the file checks healthy, and the stores that cannot
// compact say so and stay as they were.
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "store/store_check.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/pmem_env.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel::test {
namespace {

bytes_view bv(const std::string& s) { return as_bytes(s); }

/// Puts 8,000 keys in a scattered order, overwrites a third and erases a tenth, unsynced: a tree whose
/// leaves are out of key order, with freed blocks between them.
void scatter(store& s, model& m) {
  constexpr int keys = 8000;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < keys; ++i) {
      char k[32];
      std::snprintf(k, sizeof k, "/objects/%07d", (i * 7919 + round) % keys);
      const std::string key(k);
      if (round == 2 && i % 10 == 0) {
        ASSERT_TRUE(s.erase(bv(key), durability::none).has_value());
        m.erase(key);
      } else if (round == 0 || i % 3 == 0) {
        const std::string value = "v" + std::to_string(round) + ":" + key;
        ASSERT_TRUE(s.put(bv(key), bv(value), durability::none).has_value());
        m[key] = value;
      }
    }
  }
}

TEST(CompactTest, AMemoryStoreKeepsItsContentsAndItsSnapshots) {
  auto opened = store::open(options{});
  ASSERT_TRUE(opened.has_value());
  store& s = **opened;
  model m;
  scatter(s, m);
  auto snap = s.snapshot();
  ASSERT_TRUE(snap.has_value());
  const model at_snapshot = m;
  ASSERT_TRUE(s.put(bv("/objects/after"), bv("x")).has_value());
  m["/objects/after"] = "x";

  const std::size_t leaf_bytes = s.memory().leaf_bytes;
  ASSERT_TRUE(s.compact().has_value());
  expect_contents(s, m);
  EXPECT_EQ(s.memory().leaf_bytes, leaf_bytes);
  pairs frozen;
  for (const entry& e : snap->prefix_scan({})) frozen.emplace_back(to_string(e.key), to_string(e.value));
  EXPECT_EQ(frozen, as_pairs(at_snapshot));
  // Writes go on as before.
  ASSERT_TRUE(s.erase(bv("/objects/0000001")).has_value());
  m.erase("/objects/0000001");
  ASSERT_TRUE(s.put(bv("/objects/new"), bv("n")).has_value());
  m["/objects/new"] = "n";
  expect_contents(s, m);
  auto empty = store::open(options{});
  ASSERT_TRUE(empty.has_value());
  ASSERT_TRUE((*empty)->compact().has_value()) << "an empty store compacts to nothing";
  EXPECT_TRUE((*empty)->is_empty());
}

TEST(CompactTest, ProgressHearsTheEntriesCopiedEvery65536) {
  auto opened = store::open(options{});
  ASSERT_TRUE(opened.has_value());
  store& s = **opened;
  for (int i = 0; i < 140000; ++i) {
    const std::string key = "/p/" + std::to_string(i * 7919 % 140000);
    ASSERT_TRUE(s.put(bv(key), bv("v")).has_value());
  }
  std::vector<std::uint64_t> heard;
  ASSERT_TRUE(s.compact([&](std::uint64_t entries) { heard.push_back(entries); }).has_value());
  EXPECT_EQ(heard, (std::vector<std::uint64_t>{65536, 131072}));
  EXPECT_EQ(s.len(), 140000U);
}

class CompactDurableTest : public ::testing::TestWithParam<durability> {};

TEST_P(CompactDurableTest, TheCompactedTreeIsTheDurableOneAndChecksHealthy) {
  temp_dir dir;
  model m;
  {
    auto s = must_open(dir.path().string(), durable_options(GetParam()));
    ASSERT_NE(s, nullptr);
    scatter(*s, m);
    ASSERT_TRUE(s->compact().has_value());
    expect_contents(*s, m);
    ASSERT_TRUE(s->close().has_value());
  }
  const auto report = check_store(dir.path());
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
  EXPECT_EQ(report->leaves_in_key_order, report->leaves - 1) << "check sees every leaf in key order in the file";
  {
    auto s = must_open(dir.path().string(), durable_options(GetParam()));
    ASSERT_NE(s, nullptr);
    expect_contents(*s, m);
    // Compact, write more, and crash: the compaction committed, the later writes come back from the log.
    ASSERT_TRUE(s->compact().has_value());
    for (int i = 0; i < 500; ++i) {
      const std::string key = "/late/" + std::to_string(i);
      ASSERT_TRUE(s->put(bv(key), bv(key), durability::sync).has_value());
      m[key] = key;
    }
    crash(std::move(s));
  }
  auto s = must_open(dir.path().string(), durable_options(GetParam()));
  ASSERT_NE(s, nullptr);
  expect_contents(*s, m);
}

INSTANTIATE_TEST_SUITE_P(Durability, CompactDurableTest, ::testing::Values(durability::none, durability::sync),
                         [](const auto& param_info) { return param_info.param == durability::none ? "None" : "Sync"; });

class CompactCrashTest : public ::testing::TestWithParam<detail::commit_step> {};

TEST_P(CompactCrashTest, ACrashInItsCommitFindsTheSameContents) {
  // Power-loss mode keeps only what the protocol made durable. The compaction's commit stops at a step, as
  // if the process died there: the reopened store has the old tree, with the same entries, and checks
  // healthy.
  temp_dir dir;
  model m;
  {
    auto s = must_open(dir.path().string(), durable_options(durability::log, true));
    ASSERT_NE(s, nullptr);
    scatter(*s, m);
    ASSERT_TRUE(s->checkpoint().has_value());
    ASSERT_TRUE(s->put(bv("/objects/logged"), bv("l")).has_value());
    m["/objects/logged"] = "l";
    ASSERT_TRUE(s->flush().has_value());
    const detail::commit_step stop_at = GetParam();
    detail::store_access::set_commit_hook(*s, [stop_at](detail::commit_step step) { return step != stop_at; });
    const auto stopped = s->compact();
    ASSERT_FALSE(stopped.has_value());
    EXPECT_EQ(stopped.error().code(), errc::aborted) << stopped.error().to_string();
    crash(std::move(s));
  }
  {
    auto s = must_open(dir.path().string(), durable_options(durability::log, true));
    ASSERT_NE(s, nullptr);
    expect_contents(*s, m);
    ASSERT_TRUE(s->close().has_value());
  }
  const auto report = check_store(dir.path());
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
}

INSTANTIATE_TEST_SUITE_P(EachStep, CompactCrashTest,
                         ::testing::Values(detail::commit_step::seal, detail::commit_step::persist_blocks,
                                           detail::commit_step::write_meta),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case detail::commit_step::seal: return std::string("Seal");
                             case detail::commit_step::persist_blocks: return std::string("PersistBlocks");
                             default: return std::string("WriteMeta");
                           }
                         });

TEST(CompactTest, StoresThatCannotCompactSaySoAndStayAsTheyWere) {
  temp_dir dir;
  model m;
  {
    auto s = must_open(dir.sub("mmap"), durable_options(durability::none));
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->put(bv("k"), bv("v")).has_value());
    m["k"] = "v";
    ASSERT_TRUE(s->close().has_value());
  }
  options ro = durable_options(durability::none);
  ro.read_only = true;
  ro.mode = open_mode::open_existing;
  {
    auto s = must_open(dir.sub("mmap"), ro);
    ASSERT_NE(s, nullptr);
    const auto refused = s->compact();
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), errc::not_supported) << refused.error().to_string();
    expect_contents(*s, m);
  }

  force_pmem_flush();
  options pool;
  pool.backend = backend::pmem;
  pool.pool_bytes = 16 << 20;
  auto s = must_open(dir.sub("pmem"), pool);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->put(bv("k"), bv("v")).has_value());
  const auto refused = s->compact();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), errc::not_supported) << refused.error().to_string();
  EXPECT_NE(refused.error().message().find("pmem"), std::string_view::npos) << refused.error().to_string();
  expect_contents(*s, m);
}

}  // namespace
}  // namespace tessel::test
