// kill -9 during cross-shard batches: a child process writes batches that set one key on each of three
// shards to the same counter, acknowledging each to its parent; the parent kills it at random moments and
// reopens. Every batch must be all or nothing -- the three keys always equal -- and no acknowledged batch
// lost. The shards run with durability none, so their own logs usually lose the last parts and recovery
// has to re-apply them from the coordinator log. Then the same for batches whose keys are all on one shard,
// at durability log: each is one batch record of that shard's log, whole or cut; and cross-shard batches
// again while the coordinator log is trimmed every few dozen batches, and in worker mode. Label crash.
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

#include "tessel/sharded_store.hpp"

#include "store/shard_manifest.hpp"
#include "store/store_check.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/kill_child.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

constexpr int kill_rounds = 60;
const shard_options three_shards{3, routing::whole_key, 1};

options shard_store_options() {
  options o = test::durable_options(durability::none);
  o.log_segment_bytes = 256 << 10;  // small segments: a reopen's log scan stays short in debug builds
  o.checkpoint_log_bytes = 512 << 10;
  return o;
}

std::vector<std::string> keys_on_distinct_shards(const sharded_store& s) {
  std::vector<std::string> keys;
  std::vector<bool> used(s.shards(), false);
  for (int i = 0; keys.size() < s.shards(); ++i) {
    const std::string k = "acct/" + std::to_string(i);
    if (used[s.shard_of(as_bytes(k))]) continue;
    used[s.shard_of(as_bytes(k))] = true;
    keys.push_back(k);
  }
  return keys;
}

/// Three keys of shard 0.
std::vector<std::string> keys_on_one_shard(const sharded_store& s) {
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 3; ++i) {
    std::string k = "acct/" + std::to_string(i);
    if (s.shard_of(as_bytes(k)) == 0) keys.push_back(std::move(k));
  }
  return keys;
}

/// How a crash round's batches are written: the store's options and which keys each batch sets.
struct batch_plan {
  options opts;
  std::vector<std::string> (*keys)(const sharded_store&);
  std::size_t value_pad = 0;  ///< bytes after the counter in each value: larger records tear more often
  /// Each batch n also writes keys of its own (history_key(n, i)), so that losing a batch shows even when
  /// a later one overwrote its counters.
  bool history = false;
  shard_options shards = three_shards;
};

std::string history_key(std::uint64_t n, std::size_t i) { return "h/" + std::to_string(n) + "/" + std::to_string(i); }

/// The counter a value holds (the digits before its padding).
std::string counter_of(const std::string& value) { return value.substr(0, value.find(' ')); }

[[noreturn]] void write_batches(const std::string& dir, const batch_plan& plan, std::uint64_t from, int ack_fd) {
  auto s = sharded_store::open(dir, plan.opts, plan.shards);
  if (!s) _exit(10);
  if (::write(ack_fd, &test::opened_marker, sizeof test::opened_marker) != sizeof test::opened_marker) _exit(12);
  const std::vector<std::string> keys = plan.keys(**s);
  for (std::uint64_t n = from;; ++n) {
    std::vector<write_op> ops;
    for (const std::string& k : keys) {
      ops.push_back({false, k, std::to_string(n) + (plan.value_pad > 0 ? " " + std::string(plan.value_pad, 'p') : "")});
    }
    for (std::size_t i = 0; plan.history && i < keys.size(); ++i) ops.push_back({false, history_key(n, i), "h"});
    if (!(*s)->write_batch(ops)) _exit(11);
    if (::write(ack_fd, &n, sizeof n) != sizeof n) _exit(12);
  }
}

/// Kills a child writing `plan`'s batches at random moments, `kills` times; after each, every batch is
/// whole and no acknowledged one is lost.
void expect_batches_all_or_nothing_across_kill9(const batch_plan& plan, int kills) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("sharded");
  std::mt19937_64 rng(11);
  std::uint64_t acked = 0;
  int read_only_refusals = 0;  // a shard lacked a batch's part: the writable open below re-applies it
  for (int round = 0; round < kills; ++round) {
    const test::killed_child run =
        test::run_and_kill([&](int ack_fd) { write_batches(dir, plan, acked + 1, ack_fd); }, round % 2 == 1, rng);
    ASSERT_TRUE(run.killed) << "the child stopped by itself with exit code " << run.exit_code;
    for (const std::uint64_t n : run.acks) acked = std::max(acked, n);

    // Read-only first: it cannot finish a batch a shard lacks, so it refuses -- or shows every batch whole.
    {
      options ro = plan.opts;
      ro.read_only = true;
      auto r = sharded_store::open(dir, ro, plan.shards);
      if (r) {
        std::set<std::string> seen;
        for (const std::string& k : plan.keys(**r))
          seen.insert(counter_of((*r)->get_string(as_bytes(k)).value_or("0")));
        ASSERT_EQ(seen.size(), 1U) << "round " << round << ": a read-only open shows half a batch";
        ASSERT_GE(std::stoull(*seen.begin()), acked) << "round " << round << ": a read-only open lost a batch";
      } else if (r.error().code() == errc::not_supported) {
        ++read_only_refusals;
      } else {
        ASSERT_EQ(r.error().code(), errc::not_found) << "round " << round << ": " << r.error().to_string();
      }
    }
    // The child's shard options: a child killed before its creation finished leaves no store, and this
    // open creates it.
    auto s = sharded_store::open(dir, plan.opts, plan.shards);
    ASSERT_TRUE(s.has_value()) << "round " << round << ": " << s.error().to_string();
    std::set<std::string> values;
    for (const std::string& k : plan.keys(**s)) values.insert(counter_of((*s)->get_string(as_bytes(k)).value_or("0")));
    ASSERT_EQ(values.size(), 1U) << "round " << round << ": a batch is half applied";
    const std::uint64_t got = std::stoull(*values.begin());
    ASSERT_GE(got, acked) << "round " << round << ": an acknowledged batch is lost";
    ASSERT_LE(got, acked + 1) << "round " << round << ": a batch never written appeared";
    const std::size_t keys_per_batch = plan.keys(**s).size();
    for (std::uint64_t n = 1; plan.history && n <= got; ++n) {
      for (std::size_t i = 0; i < keys_per_batch; ++i) {
        ASSERT_TRUE((*s)->contains(as_bytes(history_key(n, i)))) << "round " << round << ": batch " << n << " is lost";
      }
    }
    acked = got;
    ASSERT_TRUE((*s)->close());
  }
  EXPECT_GT(acked, static_cast<std::uint64_t>(kills)) << "the children made progress";
  ::testing::Test::RecordProperty("read_only_refusals", read_only_refusals);
  for (std::uint32_t i = 0; i < 3; ++i) {
    const auto report = check_store(std::filesystem::path(dir) / detail::shard_directory_name(i));
    ASSERT_TRUE(report.has_value()) << report.error().to_string();
    EXPECT_TRUE(report->problems.empty()) << "shard " << i << ": " << report->problems.front();
  }
}

TEST(ShardedCrashTest, CrossShardBatchesAreAllOrNothingAcrossKill9) {
  expect_batches_all_or_nothing_across_kill9({shard_store_options(), &keys_on_distinct_shards}, kill_rounds);
}

// Coordinator segments of 16 KiB: a batch trims the log every few dozen batches (sharded_impl.hpp,
// trim_coordinator_if_due), so kills land before, during and after trims. A trim that dropped records
// before the shards' logs hold their parts loses batches here.
TEST(ShardedCrashTest, CrossShardBatchesStayWholeWhileTheCoordinatorLogIsTrimmed) {
  options o = shard_store_options();
  o.log_segment_bytes = 16 << 10;
  expect_batches_all_or_nothing_across_kill9({o, &keys_on_distinct_shards, 200, true}, kill_rounds / 2);
}

// Worker mode: each shard's worker applies its own writes; a cross-shard batch applies its parts on the
// caller's thread under the same locks and publishes every shard it wrote.
TEST(ShardedCrashTest, CrossShardBatchesInWorkerModeAreAllOrNothingAcrossKill9) {
  batch_plan plan{shard_store_options(), &keys_on_distinct_shards, 0, true};
  plan.shards.mode = shard_mode::workers;
  plan.shards.pin_workers = false;
  expect_batches_all_or_nothing_across_kill9(plan, kill_rounds / 2);
}

TEST(ShardedCrashTest, BatchesOfOneShardAreAllOrNothingAcrossKill9) {
  options o = shard_store_options();
  o.durability = durability::log;
  expect_batches_all_or_nothing_across_kill9({o, &keys_on_one_shard, 3000}, kill_rounds / 2);
}

}  // namespace
}  // namespace tessel
