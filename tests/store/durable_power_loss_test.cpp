// Crashes and failures during commits of a durable store, in power-loss simulation (only what a commit made
// durable reaches the file): a crash before each commit step leaves exactly the previous commit, a finished
// commit survives, a torn meta slot write falls back, random crash points in a long run always leave the
// state before or after the write in flight, a failed commit makes the store fail-stop until reopened, and a
// full file system is a no_space error that loses no acknowledged write.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include "tessel/store.hpp"

#include "store/store_impl.hpp"
#include "store/tree_commit.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/file_size_limit.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using detail::commit_step;
using test::crash;
using test::durable_options;
using test::expect_contents;
using test::model;
using test::must_open;
using ::testing::HasSubstr;

detail::tree_committer& committer(store& s) { return *detail::store_access::impl(s).durable()->committer; }

/// Commit A: 200 keys.
model state_a() {
  model m;
  for (int i = 0; i < 200; ++i) m["key/" + std::to_string(i)] = "a" + std::to_string(i);
  return m;
}

/// B, applied on top of A: new keys, overwrites (one growing a value past 64 KiB) and erases.
model apply_b(store& s, model m) {
  for (int i = 0; i < 50; ++i) {
    const std::string k = "new/" + std::to_string(i);
    m[k] = "b" + std::to_string(i);
    EXPECT_TRUE(s.put_string(k, m[k]));
  }
  for (int i = 0; i < 200; i += 3) {
    const std::string k = "key/" + std::to_string(i);
    m[k] = "b-over" + std::to_string(i);
    EXPECT_TRUE(s.put_string(k, m[k]));
  }
  for (int i = 1; i < 200; i += 5) {
    const std::string k = "key/" + std::to_string(i);
    m.erase(k);
    EXPECT_TRUE(s.erase(as_bytes(k)));
  }
  m["key/2"] = std::string(70'000, 'x');
  EXPECT_TRUE(s.put_string("key/2", m["key/2"]));
  return m;
}

class DurablePowerLossTest : public ::testing::TestWithParam<commit_step> {
 protected:
  /// A fresh power-loss store holding A, committed; its writes default to durability none.
  std::unique_ptr<store> open_with_a() {
    auto s = must_open(dir_, durable_options(durability::none, /*power_loss=*/true));
    if (!s) return nullptr;
    for (const auto& [k, v] : a_) EXPECT_TRUE(s->put_string(k, v));
    EXPECT_TRUE(s->checkpoint());
    return s;
  }

  std::unique_ptr<store> reopen() { return must_open(dir_, durable_options(durability::none, true)); }

  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
  model a_ = state_a();
};

TEST_P(DurablePowerLossTest, CrashBeforeCommitStepLeavesExactlyThePreviousCommit) {
  const commit_step stop_at = GetParam();
  {
    auto s = open_with_a();
    ASSERT_TRUE(s);
    const model b = apply_b(*s, a_);
    std::vector<commit_step> seen;
    committer(*s).set_hook([&](commit_step step) {
      seen.push_back(step);
      return step != stop_at;
    });
    auto put = s->put(as_bytes("last"), as_bytes("write"), durability::sync);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code(), errc::aborted) << put.error().to_string();
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back(), stop_at);
    // The writer's view is unaffected: every write so far is visible until the crash.
    model live = b;
    live["last"] = "write";
    expect_contents(*s, live);
    crash(std::move(s));
  }
  auto s = reopen();
  ASSERT_TRUE(s);
  expect_contents(*s, a_);
  EXPECT_TRUE(detail::store_access::impl(*s).durable()->recovery.fallback.empty());
}

TEST_P(DurablePowerLossTest, AbortedCommitLeavesAStoreThatCommitsLater) {
  // An aborted commit (test hook) is not a failed sync: the store keeps working, and the next commit
  // makes everything durable, the aborted write included.
  const commit_step stop_at = GetParam();
  model b;
  {
    auto s = open_with_a();
    ASSERT_TRUE(s);
    b = apply_b(*s, a_);
    committer(*s).set_hook([&](commit_step step) { return step != stop_at; });
    ASSERT_FALSE(s->put(as_bytes("last"), as_bytes("write"), durability::sync));
    b["last"] = "write";
    committer(*s).set_hook(nullptr);
    ASSERT_TRUE(s->checkpoint());
    crash(std::move(s));
  }
  auto s = reopen();
  ASSERT_TRUE(s);
  expect_contents(*s, b);
}

INSTANTIATE_TEST_SUITE_P(EveryStep, DurablePowerLossTest,
                         ::testing::Values(commit_step::seal, commit_step::persist_blocks, commit_step::write_meta),
                         [](const ::testing::TestParamInfo<commit_step>& p) -> std::string {
                           switch (p.param) {
                             case commit_step::seal: return "Seal";
                             case commit_step::persist_blocks: return "PersistBlocks";
                             case commit_step::write_meta: return "WriteMeta";
                           }
                           return "Unknown";
                         });

class DurableCommitCrashTest : public ::testing::Test {
 protected:
  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
};

TEST_F(DurableCommitCrashTest, CommitStepsRunInProtocolOrder) {
  auto s = must_open(dir_, durable_options(durability::sync, true));
  ASSERT_TRUE(s);
  std::vector<commit_step> seen;
  committer(*s).set_hook([&](commit_step step) {
    seen.push_back(step);
    return true;
  });
  ASSERT_TRUE(s->put_string("k", "v"));
  committer(*s).set_hook(nullptr);  // `seen` dies before the store's closing commit
  EXPECT_EQ(seen, (std::vector<commit_step>{commit_step::seal, commit_step::persist_blocks, commit_step::write_meta}));
}

TEST_F(DurableCommitCrashTest, CrashAfterFinishedCommitKeepsExactlyTheNewState) {
  model b;
  {
    auto s = must_open(dir_, durable_options(durability::none, true));
    ASSERT_TRUE(s);
    const model a = state_a();
    for (const auto& [k, v] : a) ASSERT_TRUE(s->put_string(k, v));
    ASSERT_TRUE(s->checkpoint());
    b = apply_b(*s, a);
    ASSERT_TRUE(s->put(as_bytes("last"), as_bytes("write"), durability::sync));
    b["last"] = "write";
    crash(std::move(s));
  }
  auto s = must_open(dir_, durable_options(durability::none, true));
  ASSERT_TRUE(s);
  expect_contents(*s, b);
}

TEST_F(DurableCommitCrashTest, TornMetaWriteOfNewestCommitFallsBackToThePreviousOne) {
  const auto file = test::data_file(dir_);
  const model a = state_a();
  {
    auto s = must_open(dir_, durable_options(durability::none, true));
    ASSERT_TRUE(s);
    for (const auto& [k, v] : a) ASSERT_TRUE(s->put_string(k, v));
    ASSERT_TRUE(s->checkpoint());
    (void)apply_b(*s, a);
    ASSERT_TRUE(s->checkpoint());
    crash(std::move(s));
  }
  // The newest slot's page got only its first sectors before the power went: the rest is stale garbage.
  const int newest = test::newest_slot(file);
  std::vector<std::byte> garbage(mmap::page_bytes - 1024);
  std::mt19937 rng(7);
  for (std::byte& b : garbage) b = static_cast<std::byte>(rng() & 0xFF);
  test::write_bytes(file, mmap::meta_offsets[static_cast<unsigned>(newest)] + 1024, garbage);

  auto s = must_open(dir_, durable_options(durability::none, true));
  ASSERT_TRUE(s);
  expect_contents(*s, a);
}

TEST_F(DurableCommitCrashTest, RandomCrashPointsLeaveTheStateBeforeOrAfterTheWriteInFlight) {
  // Many rounds of sync writes, each round ending in a crash at a random step of a commit: every round
  // reopens to exactly the writes acknowledged so far, never the one in flight, never half of anything.
  std::mt19937_64 rng(99);
  model durable;
  for (int round = 0; round < 30; ++round) {
    auto s = must_open(dir_, durable_options(durability::sync, true));
    ASSERT_TRUE(s);
    expect_contents(*s, durable);
    const int writes = static_cast<int>(rng() % 20);
    for (int i = 0; i < writes; ++i) {
      const std::string k = "k" + std::to_string(rng() % 300);
      if (rng() % 4 == 0) {
        ASSERT_TRUE(s->erase(as_bytes(k)));
        durable.erase(k);
      } else {
        const std::string v(rng() % 200, static_cast<char>('a' + round % 26));
        ASSERT_TRUE(s->put_string(k, v));
        durable[k] = v;
      }
    }
    const auto stop_at = static_cast<commit_step>(rng() % 3);
    committer(*s).set_hook([stop_at](commit_step step) { return step != stop_at; });
    const std::string k = "k" + std::to_string(rng() % 300);
    ASSERT_FALSE(s->put_string(k, "in flight"));
    crash(std::move(s));
  }
  auto s = must_open(dir_, durable_options(durability::sync, true));
  ASSERT_TRUE(s);
  expect_contents(*s, durable);
}

// ---- A failed commit ----

TEST_F(DurableCommitCrashTest, FailedCommitMakesTheStoreFatalUntilReopened) {
  // The commit's writes to the data file fail: its descriptor is swapped, under the store, for one opened
  // read-only (pwrite then fails with EBADF), as a failing disk would fail them.
  const model a = state_a();
  {
    auto s = must_open(dir_, durable_options(durability::none, true));
    ASSERT_TRUE(s);
    for (const auto& [k, v] : a) ASSERT_TRUE(s->put_string(k, v));
    ASSERT_TRUE(s->checkpoint());
    const int fd = committer(*s).file().fd();
    const int read_only = ::open(test::data_file(dir_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(read_only, 0);
    ASSERT_EQ(::dup2(read_only, fd), fd);
    ::close(read_only);

    auto put = s->put(as_bytes("doomed"), as_bytes("v"), durability::sync);
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code(), errc::io_error) << put.error().to_string();
    // Fail-stop: no write, erase, clear or checkpoint until reopened; reads go on.
    auto again = s->put(as_bytes("other"), as_bytes("v"), durability::none);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), errc::fatal) << again.error().to_string();
    EXPECT_THAT(std::string(again.error().message()), HasSubstr("reopen"));
    auto erase = s->erase(as_bytes("key/1"));
    ASSERT_FALSE(erase);
    EXPECT_EQ(erase.error().code(), errc::fatal);
    auto clear = s->clear();
    ASSERT_FALSE(clear);
    EXPECT_EQ(clear.error().code(), errc::fatal);
    EXPECT_EQ(s->get_string("key/1"), a.at("key/1"));
    EXPECT_FALSE(s->contains(as_bytes("other")));
    auto close = s->close();
    ASSERT_FALSE(close);
    EXPECT_EQ(close.error().code(), errc::fatal);
  }
  auto s = must_open(dir_, durable_options(durability::none, true));
  ASSERT_TRUE(s);
  expect_contents(*s, a);
  ASSERT_TRUE(s->put(as_bytes("after"), as_bytes("reopen"), durability::sync));
}

// ---- A full file system ----

/// What the child of DiskFullIsNoSpaceAndLosesNoAcknowledgedWrite reports through its pipe.
struct disk_full_report {
  int acknowledged = 0;   ///< puts that returned success
  int failure_code = -1;  ///< errc of the put that failed
  int readable = 0;       ///< acknowledged keys read back with their values after the failure
  int close_code = -1;    ///< errc of close() (0: ok)
  char message[200] = {};
};

std::string disk_full_value(int i) { return std::string(64 << 10, static_cast<char>('A' + i % 26)); }

/// Runs in the child, under RLIMIT_FSIZE: puts 64 KiB values until one fails.
disk_full_report fill_until_full(const std::string& dir) {
  disk_full_report r;
  options o = durable_options(durability::sync);
  // RLIMIT_FSIZE limits each file: small log segments stay under it, the data file runs into it.
  o.log_segment_bytes = 256 << 10;
  auto s = store::open(dir, o);
  if (!s) {
    std::snprintf(r.message, sizeof r.message, "open: %s", s.error().to_string().c_str());
    return r;
  }
  for (int i = 0; i < 1000; ++i) {
    auto ok = (*s)->put_string("big/" + std::to_string(i), disk_full_value(i));
    if (!ok) {
      r.failure_code = static_cast<int>(ok.error().code());
      std::snprintf(r.message, sizeof r.message, "%s", ok.error().to_string().c_str());
      break;
    }
    ++r.acknowledged;
  }
  for (int i = 0; i < r.acknowledged; ++i) {
    auto v = (*s)->get_string("big/" + std::to_string(i));
    if (v && *v == disk_full_value(i)) ++r.readable;
  }
  auto closed = (*s)->close();
  r.close_code = closed ? 0 : static_cast<int>(closed.error().code());
  return r;
}

TEST_F(DurableCommitCrashTest, DiskFullIsNoSpaceAndLosesNoAcknowledgedWrite) {
  const auto report =
      test::run_under_file_size_limit<disk_full_report>(rlim_t{4} << 20, [&] { return fill_until_full(dir_); });
  ASSERT_TRUE(report.has_value());
  const disk_full_report& r = *report;
  RecordProperty("acknowledged", r.acknowledged);
  RecordProperty("failure", r.message);
  RecordProperty("close_code", r.close_code);

  EXPECT_GT(r.acknowledged, 0) << r.message;
  EXPECT_LT(r.acknowledged, 1000) << "the limit was never reached";
  EXPECT_EQ(r.failure_code, static_cast<int>(errc::no_space)) << r.message;
  EXPECT_EQ(r.readable, r.acknowledged) << "acknowledged keys unreadable after the failure";
  EXPECT_TRUE(r.close_code == 0 || r.close_code == static_cast<int>(errc::no_space) ||
              r.close_code == static_cast<int>(errc::fatal))
      << "close: errc " << r.close_code;

  // Without the limit: every acknowledged write is there, and the store takes more.
  auto s = must_open(dir_, durable_options(durability::sync));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->len(), static_cast<std::size_t>(r.acknowledged));
  for (int i = 0; i < r.acknowledged; ++i) {
    EXPECT_EQ(s->get_string("big/" + std::to_string(i)), disk_full_value(i)) << i;
  }
  for (int i = r.acknowledged; i < r.acknowledged + 20; ++i) {
    auto ok = s->put_string("big/" + std::to_string(i), disk_full_value(i));
    ASSERT_TRUE(ok) << ok.error().to_string();
  }
  EXPECT_EQ(s->len(), static_cast<std::size_t>(r.acknowledged + 20));
}

}  // namespace
}  // namespace tessel
