// Run snapshots (the oris pattern): save/load_latest per run, later seqs win and earlier ones are refused,
// damage is corruption, and recovery = latest snapshot + replay of the events after its at_seq gives the
// same state as replaying everything -- also across a crash of a durable store.
#include "tessel/run_snapshots.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

/// An event log of a run: event i appends its digit to the state.
struct event_log {
  std::vector<std::string> events;
  run_snapshots::replay_function replayer() const {
    return [this](std::uint64_t after, std::string& state) -> result<std::uint64_t> {
      for (std::uint64_t seq = after + 1; seq <= events.size(); ++seq) state += events[seq - 1];
      return std::uint64_t{events.size()};
    };
  }
};

class RunSnapshotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::open(options{});
    ASSERT_TRUE(s.has_value());
    store_ = std::move(*s);
    runs_ = std::make_unique<run_snapshots>(*store_);
  }
  std::unique_ptr<store> store_;
  std::unique_ptr<run_snapshots> runs_;
};

TEST_F(RunSnapshotsTest, SaveThenLoadLatestPerRun) {
  EXPECT_FALSE(runs_->load_latest("run-a").value().has_value()) << "no snapshot yet";
  ASSERT_TRUE(runs_->save("run-a", 10, "state at 10"));
  ASSERT_TRUE(runs_->save("run-b", 3, std::string("b\0b", 3)));
  ASSERT_TRUE(runs_->save("run-a", 25, "state at 25"));
  const auto a = runs_->load_latest("run-a");
  ASSERT_TRUE(a.has_value() && a->has_value());
  EXPECT_EQ((*a)->run_id, "run-a");
  EXPECT_EQ((*a)->at_seq, 25U);
  EXPECT_EQ((*a)->state, "state at 25");
  EXPECT_EQ(runs_->load_latest("run-b").value()->state, std::string("b\0b", 3));
  ASSERT_TRUE(runs_->save("run-a", 25, "same seq again"));  // equal seq: replaces
  EXPECT_EQ(runs_->load_latest("run-a").value()->state, "same seq again");
}

TEST_F(RunSnapshotsTest, AnOlderSaveIsAConflictAndChangesNothing) {
  ASSERT_TRUE(runs_->save("run", 50, "fifty"));
  const auto older = runs_->save("run", 49, "forty-nine");
  ASSERT_FALSE(older.has_value());
  EXPECT_EQ(older.error().code(), errc::conflict);
  EXPECT_THAT(std::string(older.error().message()), ::testing::HasSubstr("50"));
  EXPECT_EQ(runs_->load_latest("run").value()->state, "fifty");
}

TEST_F(RunSnapshotsTest, BadRunIdsAndDamageAreTypedErrors) {
  EXPECT_EQ(runs_->save("", 1, "x").error().code(), errc::invalid_argument);
  EXPECT_EQ(runs_->save(std::string(2000, 'r'), 1, "x").error().code(), errc::invalid_argument);
  EXPECT_EQ(runs_->load_latest("").error().code(), errc::invalid_argument);
  ASSERT_TRUE(runs_->save("run", 7, "seven"));
  const std::string key = std::string("\xFF\xFFtessel/runs/", 14) + "run";
  auto raw = store_->get_string(key);
  ASSERT_TRUE(raw.has_value());
  (*raw)[raw->size() / 2] ^= 0x20;
  ASSERT_TRUE(store_->put_string(key, *raw));
  EXPECT_EQ(runs_->load_latest("run").error().code(), errc::corruption);
  EXPECT_TRUE(runs_->drop("run").value());
  EXPECT_FALSE(runs_->drop("run").value());
  EXPECT_FALSE(runs_->load_latest("run").value().has_value());
}

TEST_F(RunSnapshotsTest, RecoveryIsTheLatestSnapshotPlusTheLaterEvents) {
  event_log log;
  for (int i = 0; i < 30; ++i) log.events.push_back(std::to_string(i % 10));
  // No snapshot: everything is replayed.
  const auto from_nothing = runs_->recover("run", log.replayer());
  ASSERT_TRUE(from_nothing.has_value());
  std::string all;
  for (const auto& e : log.events) all += e;
  EXPECT_EQ(from_nothing->state, all);
  EXPECT_EQ(from_nothing->at_seq, 30U);
  // A snapshot at seq 12, then 18 more events: the same state, with 18 events replayed.
  ASSERT_TRUE(runs_->save("run", 12, all.substr(0, 12)));
  std::uint64_t replayed_from = 0;
  const auto recovered = runs_->recover("run", [&](std::uint64_t after, std::string& state) {
    replayed_from = after;
    return log.replayer()(after, state);
  });
  ASSERT_TRUE(recovered.has_value());
  EXPECT_EQ(replayed_from, 12U);
  EXPECT_EQ(recovered->state, all);
  EXPECT_EQ(recovered->at_seq, 30U);
}

TEST(RunSnapshotsDurableTest, SnapshotsSurviveACrash) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("store");
  {
    auto s = test::must_open(dir, test::durable_options(durability::log));
    ASSERT_TRUE(s);
    run_snapshots runs(*s);
    for (std::uint64_t seq = 1; seq <= 40; ++seq) ASSERT_TRUE(runs.save("run", seq, "state " + std::to_string(seq)));
    test::crash(std::move(s));
  }
  auto s = test::must_open(dir, test::durable_options(durability::log));
  ASSERT_TRUE(s);
  const auto latest = run_snapshots(*s).load_latest("run");
  ASSERT_TRUE(latest.has_value() && latest->has_value());
  EXPECT_EQ((*latest)->at_seq, 40U);
  EXPECT_EQ((*latest)->state, "state 40");
}

}  // namespace
}  // namespace tessel
