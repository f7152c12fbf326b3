// The checkpoint policy's commits run on the store's checkpointer thread, which seals, writes and syncs
// with the store's mutex released (docs/design.md §Checkpoints): writers go on meanwhile, a commit that
// must happen now (a sync write) waits for the one in flight, and a crash while it writes loses no
// acknowledged write. A commit hook holds the checkpointer inside a step, so each case is deterministic.
// Label concurrency (TSan clean).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "store/store_impl.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using detail::commit_step;
using detail::store_access;
using test::model;

/// Holds the first commit that reaches `at` until release(); it then goes on, or stops there as a crash
/// would (`stop`).
class step_gate {
 public:
  step_gate(commit_step at, bool stop) : at_(at), stop_(stop) {}

  /// The commit hook.
  bool pass(commit_step s) {
    if (s != at_) return true;
    std::unique_lock lock(mutex_);
    if (used_) return true;
    used_ = true;
    held_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_; });
    held_ = false;
    return !stop_;
  }
  /// Waits until a commit is held at the step; false after a minute without one.
  bool wait_held() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::minutes(1), [&] { return held_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  const commit_step at_;
  const bool stop_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool used_ = false;
  bool held_ = false;
  bool released_ = false;
};

/// A store whose policy checkpoints after 4 KiB of log, and never by time.
options small_policy(durability d, bool power_loss) {
  options o = test::durable_options(d, power_loss);
  o.checkpoint_log_bytes = 4096;
  o.checkpoint_interval = std::chrono::milliseconds(0);
  o.checkpoints_on = checkpoint_thread::background;  // whatever the host's cores
  return o;
}

std::uint64_t generation(store& s) { return store_access::impl(s).durable()->committer->durable().generation; }

/// Writes `n` keys `prefix`0... of 100 bytes into `s` and `m`; false at the first failure.
bool write_keys(store& s, model& m, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string k = prefix + std::to_string(i);
    const std::string v = std::string(100, 'v') + k;
    if (!s.put_string(k, v)) return false;
    m[k] = v;
  }
  return true;
}

/// Opens `dir` with `gate` as its commit hook; null (the test failed) when it does not open.
std::unique_ptr<store> open_gated(const std::string& dir, const options& o, step_gate& gate) {
  auto s = test::must_open(dir, o);
  if (s) store_access::set_commit_hook(*s, [&gate](commit_step st) { return gate.pass(st); });
  return s;
}

/// Drops `s` as a power loss would, reopens `dir` and expects `m`.
void expect_after_crash(std::unique_ptr<store> s, const std::string& dir, const options& o, const model& m) {
  test::crash(std::move(s));
  auto again = test::must_open(dir, o);
  ASSERT_NE(again, nullptr);
  test::expect_contents(*again, m);
}

// While the checkpointer is held between sealing and persisting the frozen tree's blocks, another thread
// still writes (a policy checkpoint on the writing thread held every writer for the whole commit: 250 ms
// on a 1M-key store, docs/benchmarks.md); the commit then ends, and a power loss keeps every write.
TEST(BackgroundCheckpointTest, WritersGoOnWhileTheCheckpointerWrites) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  const options o = small_policy(durability::log, true);
  model m;
  step_gate gate(commit_step::persist_blocks, false);
  auto s = open_gated(dir, o, gate);
  ASSERT_NE(s, nullptr);
  const std::uint64_t before = generation(*s);
  ASSERT_TRUE(write_keys(*s, m, "a", 60));  // 7 KiB of log: the policy asks for a checkpoint
  ASSERT_TRUE(gate.wait_held()) << "no checkpoint started";
  std::atomic<bool> written{false};
  model during;
  std::thread writer([&] {
    if (write_keys(*s, during, "b", 200)) written = true;
  });
  // A writer blocked by the commit never finishes while it is held: give it a minute, then let go.
  for (int i = 0; i < 6000 && !written; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(written) << "writes waited for the checkpoint's I/O";
  gate.release();
  writer.join();
  store_access::wait_for_checkpoints(*s);
  EXPECT_GE(generation(*s), before + 1);
  m.insert(during.begin(), during.end());
  test::expect_contents(*s, m);
  expect_after_crash(std::move(s), dir, o, m);
}

// A write at durability sync commits before it returns: while the checkpointer's commit is in flight it
// waits for that one (two commits never overlap), then commits its own.
TEST(BackgroundCheckpointTest, ASyncWriteWaitsForTheCommitInFlight) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("s");
  const options o = small_policy(durability::none, true);
  model m;
  step_gate gate(commit_step::write_meta, false);
  auto s = open_gated(dir, o, gate);
  ASSERT_NE(s, nullptr);
  const std::uint64_t before = generation(*s);
  ASSERT_TRUE(write_keys(*s, m, "a", 60));
  ASSERT_TRUE(gate.wait_held());
  std::atomic<bool> synced{false};
  std::thread writer([&] {
    if (s->put(as_bytes(std::string_view("synced")), as_bytes(std::string_view("v")), durability::sync)) synced = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(synced) << "a sync write committed while another commit was in flight";
  gate.release();
  writer.join();
  EXPECT_TRUE(synced);
  m["synced"] = "v";
  EXPECT_EQ(generation(*s), before + 2) << "the checkpointer's commit, then the sync write's";
  expect_after_crash(std::move(s), dir, o, m);
}

// A crash at each step of a checkpoint in flight, with writes acknowledged at durability log while it was
// held: every one of them is there after a power loss, from the commit before and the log.
TEST(BackgroundCheckpointTest, ACrashWhileTheCheckpointerWritesLosesNoAcknowledgedWrite) {
  for (const commit_step at : {commit_step::seal, commit_step::persist_blocks, commit_step::write_meta}) {
    SCOPED_TRACE(static_cast<int>(at));
    test::temp_dir tmp;
    const std::string dir = tmp.sub("s");
    const options o = small_policy(durability::log, true);
    model m;
    step_gate gate(at, true);
    auto s = open_gated(dir, o, gate);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(write_keys(*s, m, "a", 60));
    ASSERT_TRUE(gate.wait_held());
    ASSERT_TRUE(write_keys(*s, m, "b", 30));
    gate.release();  // the commit stops at the step, as if the process died there
    store_access::wait_for_checkpoints(*s);
    expect_after_crash(std::move(s), dir, o, m);
  }
}

// The checkpointer runs beside a thread that writes and reads in turn -- reads verifying leaves against the
// durable commit it adopts, memory figures the slices of its reclaims change -- and every read sees the
// last write. Under TSan this is the race check of everything the checkpointer touches with the mutex
// released or taken back.
TEST(BackgroundCheckpointTest, AThreadReadingBetweenItsWritesSeesThemAll) {
  test::temp_dir tmp;
  options o = small_policy(durability::none, false);
  o.verify_checksums_on_read = true;
  auto s = test::must_open(tmp.sub("s"), o);
  ASSERT_NE(s, nullptr);
  model m;
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 100; ++i) {
      const std::string k = "k" + std::to_string((round * 37 + i) % 500);
      const std::string v = std::to_string(round) + std::string(static_cast<std::size_t>(i), 'v');
      ASSERT_TRUE(s->put_string(k, v).has_value());
      m[k] = v;
      const auto got = s->get_string(k);
      ASSERT_TRUE(got.has_value()) << got.error().to_string();
      ASSERT_EQ(*got, v);
    }
    EXPECT_GT(s->memory().live_bytes, 0U);
    if (round % 10 == 9) {
      const std::string gone = "k" + std::to_string(round);
      ASSERT_TRUE(s->erase(as_bytes(std::string_view(gone))).has_value());
      m.erase(gone);
    }
  }
  store_access::wait_for_checkpoints(*s);
  test::expect_contents(*s, m);
  ASSERT_TRUE(s->close().has_value());
}

}  // namespace
}  // namespace tessel
