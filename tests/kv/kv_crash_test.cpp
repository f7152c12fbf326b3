// kill -9 during transfer transactions: a child moves amounts between accounts spread over three shards
// of a durable kv store (each transfer a checked transaction), acknowledging each to its parent; the
// parent kills it at random moments and reopens. The total is always the same -- no transfer half applied
// -- and every acknowledged transfer is there: the child also counts its transfers in a key of the same
// transaction. kill -9 of threads setting keys of one shard, whose syncs are paid after the shard is
// released: no acknowledged set is lost. kill -9 of a child that opens, writes and closes over and over:
// a watch resumed from an acknowledged seq is compacted or exact (the history saved at close). And a full
// disk, for the transactions and for a history too big to save at close. Label crash.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

#include "tessel/kv_store.hpp"

#include "tests/kv/kv_test_support.hpp"
#include "tests/support/file_size_limit.hpp"
#include "tests/support/kill_child.hpp"

namespace tessel {
namespace {

constexpr int kills = 40;
constexpr int accounts = 6;
const test::kv_config three_shards{"mmap_3_shards", backend::mmap, 3, shard_mode::inline_calls, durability::log};
const test::kv_config durable_two_shards{"mmap_2_shards", backend::mmap, 2, shard_mode::inline_calls, durability::log};
constexpr int history_kills = 30;

std::string account(int i) { return "/bank/acct/" + std::to_string(i); }

[[noreturn]] void transfer_until_killed(const std::string& dir, std::uint64_t seed, int ack_fd) {
  auto kv = test::open_kv(three_shards, dir);
  if (!kv) _exit(10);
  if (::write(ack_fd, &test::opened_marker, sizeof test::opened_marker) != sizeof test::opened_marker) _exit(12);
  std::mt19937_64 rng(seed);
  while (true) {
    const auto from = static_cast<int>(rng() % accounts);
    const auto to = static_cast<int>((static_cast<std::uint64_t>(from) + 1 + rng() % (accounts - 1)) % accounts);
    auto a = (*kv)->get(account(from));
    auto b = (*kv)->get(account(to));
    auto count = (*kv)->get("/bank/transfers");
    if (!a || !b || !count) _exit(13);
    const std::uint64_t n = std::stoull(count->value) + 1;
    const long amount = static_cast<long>(rng() % 50);
    auto r = (*kv)->transaction({kv_op::check_version(account(from), a->version),
                                 kv_op::check_version(account(to), b->version),
                                 kv_op::set(account(from), std::to_string(std::stol(a->value) - amount)),
                                 kv_op::set(account(to), std::to_string(std::stol(b->value) + amount)),
                                 kv_op::set("/bank/transfers", std::to_string(n))});
    if (!r) _exit(11);
    if (::write(ack_fd, &n, sizeof n) != sizeof n) _exit(12);
  }
}

TEST(KvCrashTest, TransfersStayWholeAndAcknowledgedAcrossKill9) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("bank");
  {
    auto kv = test::open_kv(three_shards, dir);
    ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
    std::vector<kv_op> init{kv_op::set("/bank/transfers", "0")};
    for (int i = 0; i < accounts; ++i) init.push_back(kv_op::set(account(i), "1000"));
    ASSERT_TRUE((*kv)->transaction(init));
    ASSERT_TRUE((*kv)->close());
  }
  std::mt19937_64 rng(23);
  std::uint64_t acked = 0;
  for (int round = 0; round < kills; ++round) {
    const test::killed_child run =
        test::run_and_kill([&](int ack_fd) { transfer_until_killed(dir, static_cast<std::uint64_t>(round), ack_fd); },
                           round % 2 == 1, rng);
    ASSERT_TRUE(run.killed) << "the child stopped by itself with exit code " << run.exit_code;
    for (const std::uint64_t n : run.acks) acked = std::max(acked, n);

    auto kv = test::open_kv(three_shards, dir);
    ASSERT_TRUE(kv.has_value()) << "round " << round << ": " << kv.error().to_string();
    long total = 0;
    ASSERT_TRUE((*kv)->scan("/bank/acct/", [&](std::string_view, const kv_entry& e) {
      total += std::stol(e.value);
      return true;
    }));
    ASSERT_EQ(total, 1000L * accounts) << "round " << round << ": a transfer is half applied";
    const std::uint64_t done = std::stoull((*kv)->get("/bank/transfers").value().value);
    ASSERT_GE(done, acked) << "round " << round << ": an acknowledged transfer is lost";
    ASSERT_LE(done, acked + 1) << "round " << round << ": a transfer never made appeared";
    acked = done;
    ASSERT_TRUE((*kv)->close());
  }
  EXPECT_GT(acked, std::uint64_t{kills}) << "the children made progress";
}

/// The keys of the concurrent-sets child: one counter per writer thread, on one shard, and the key the
/// reader thread's transactions write, on the other.
struct counter_keys {
  std::string counter[2];
  std::string seen;
};

counter_keys pick_counter_keys(kv_store& kv) {
  counter_keys k{{"/count/a", "/count/b"}, {}};
  const sharded_store& engine = kv.engine();
  const std::uint32_t home = engine.shard_of(as_bytes(k.counter[0]));
  for (int i = 0; k.seen.empty() || engine.shard_of(as_bytes(k.seen)) == home; ++i)
    k.seen = "/seen/" + std::to_string(i);
  return k;
}

/// Two threads count up their own key (each set durable at log, its sync paid after the shard is released)
/// and acknowledge thread << 32 | n once set n returned; a third reads counter 0 and copies the value into
/// `seen` with a transaction checking the version it read -- a commit on the other shard resting on a write
/// whose sync may still be owed.
[[noreturn]] void count_until_killed(const std::string& dir, const counter_keys& keys, int ack_fd) {
  auto kv = test::open_kv(durable_two_shards, dir);
  if (!kv) _exit(10);
  if (::write(ack_fd, &test::opened_marker, sizeof test::opened_marker) != sizeof test::opened_marker) _exit(12);
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto stored = (*kv)->get(keys.counter[t]);
      std::uint64_t n = stored ? std::stoull(stored->value) : 0;
      while (true) {
        ++n;
        if (!(*kv)->set(keys.counter[t], std::to_string(n))) _exit(11);
        const std::uint64_t ack = t << 32 | n;
        if (::write(ack_fd, &ack, sizeof ack) != sizeof ack) _exit(12);
      }
    });
  }
  threads.emplace_back([&] {
    while (true) {
      auto e = (*kv)->get(keys.counter[0]);
      if (!e) continue;  // not written yet
      auto r = (*kv)->transaction({kv_op::check_version(keys.counter[0], e->version), kv_op::set(keys.seen, e->value)});
      if (!r && r.error().code() != errc::conflict) _exit(13);
    }
  });
  for (std::thread& th : threads) th.join();
  _exit(14);
}

// kill -9 of two threads setting keys of one shard while a third commits on another shard what it read of
// the first: every acknowledged set is there after the reopen (the sync a set pays after releasing its shard
// still comes before its answer), at most the one set in flight per thread more; and the copy never shows
// a value its source lost (the transaction made the write it read durable before its own commit point).
TEST(KvCrashTest, ConcurrentSetsOfOneShardLoseNothingAcrossKill9) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("counters");
  counter_keys keys;
  {
    auto kv = test::open_kv(durable_two_shards, dir);
    ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
    keys = pick_counter_keys(**kv);
    ASSERT_TRUE((*kv)->close());
  }
  std::mt19937_64 rng(31);
  std::uint64_t acked[2] = {0, 0};
  bool copied = false;
  for (int round = 0; round < kills / 2; ++round) {
    const test::killed_child run =
        test::run_and_kill([&](int ack_fd) { count_until_killed(dir, keys, ack_fd); }, round % 2 == 1, rng);
    ASSERT_TRUE(run.killed) << "the child stopped by itself with exit code " << run.exit_code;
    for (const std::uint64_t ack : run.acks) {
      const std::uint64_t t = ack >> 32;
      ASSERT_LT(t, 2U);
      acked[t] = std::max(acked[t], ack & 0xFFFFFFFF);
    }
    auto kv = test::open_kv(durable_two_shards, dir);
    ASSERT_TRUE(kv.has_value()) << "round " << round << ": " << kv.error().to_string();
    std::uint64_t stored[2] = {0, 0};
    for (std::uint64_t t = 0; t < 2; ++t) {
      auto e = (*kv)->get(keys.counter[t]);
      if (e) stored[t] = std::stoull(e->value);
      ASSERT_GE(stored[t], acked[t]) << "round " << round << ": an acknowledged set of thread " << t << " is lost";
      ASSERT_LE(stored[t], acked[t] + 1) << "round " << round << ": a set never made appeared";
      acked[t] = stored[t];
    }
    if (auto seen = (*kv)->get(keys.seen)) {
      ASSERT_LE(std::stoull(seen->value), stored[0])
          << "round " << round << ": a transaction outlived the write it read";
      copied = true;
    }
    ASSERT_TRUE((*kv)->close());
  }
  EXPECT_GT(acked[0] + acked[1], std::uint64_t{kills}) << "the children made progress";
  EXPECT_TRUE(copied) << "no transaction of the reader thread ever committed: the copy check saw nothing";
}

/// One acknowledged set of the history child: its commit's seq, key number and new version.
struct acked_set {
  std::uint64_t seq = 0;
  std::uint64_t key = 0;
  std::uint64_t version = 0;
};

std::string history_key(std::uint64_t k) { return "/hist/k" + std::to_string(k); }

/// Opens the store, makes a few sets, closes it (saving the watch history), again and again until killed.
/// Each set is acknowledged as 16 bytes in one write (atomic on a pipe): its seq (exact: the only writer),
/// then key << 32 | version.
[[noreturn]] void reopen_until_killed(const std::string& dir, std::uint64_t seed, int ack_fd) {
  std::mt19937_64 rng(seed);
  bool announced = false;
  while (true) {
    auto kv = test::open_kv(durable_two_shards, dir);
    if (!kv) _exit(10);
    if (!announced) {
      if (::write(ack_fd, &test::opened_marker, sizeof test::opened_marker) != sizeof test::opened_marker) _exit(12);
      announced = true;
    }
    const std::uint64_t sets = 1 + rng() % 6;
    for (std::uint64_t i = 0; i < sets; ++i) {
      const std::uint64_t key = rng() % 5;
      auto version = (*kv)->set(history_key(key), "v" + std::to_string(rng()));
      if (!version) _exit(11);
      const std::uint64_t ack[2] = {(*kv)->current_seq(), key << 32 | *version};
      if (::write(ack_fd, ack, sizeof ack) != sizeof ack) _exit(12);
    }
    if (!(*kv)->close()) _exit(13);
  }
}

// kill -9 at any point of openings that write and close: after each, a watch from any acknowledged seq
// either is compacted or replays exactly every acknowledged change after it -- the history saved at a
// clean close never skips the commits of an opening that was killed, and never invents one.
TEST(KvCrashTest, AResumedWatchNeverSkipsACommitAcrossKill9) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("hist");
  std::mt19937_64 rng(29);
  std::vector<acked_set> acked;
  int resumed = 0;
  int compacted = 0;
  for (int round = 0; round < history_kills; ++round) {
    const test::killed_child run = test::run_and_kill(
        [&](int ack_fd) { reopen_until_killed(dir, static_cast<std::uint64_t>(round) + 100, ack_fd); }, true, rng,
        60000);
    ASSERT_TRUE(run.killed) << "the child stopped by itself with exit code " << run.exit_code;
    for (std::size_t i = 0; i + 1 < run.acks.size(); i += 2) {
      acked.push_back({run.acks[i], run.acks[i + 1] >> 32, run.acks[i + 1] & 0xFFFFFFFFU});
    }
    auto kv = test::open_kv(durable_two_shards, dir);
    ASSERT_TRUE(kv.has_value()) << "round " << round << ": " << kv.error().to_string();
    if (acked.empty()) continue;
    const acked_set& from = acked[rng() % acked.size()];
    auto w = (*kv)->watch("*", {.from_seq = from.seq, .values = false, .capacity = 1 << 16});
    if (!w) {
      ASSERT_EQ(w.error().code(), errc::compacted) << "round " << round << ": " << w.error().to_string();
      ++compacted;
    } else {
      ++resumed;
      std::vector<kv_event> events;
      while (true) {
        auto e = (**w).next_for(std::chrono::nanoseconds{0});
        ASSERT_TRUE(e.has_value()) << e.error().to_string();
        if (!*e) break;
        events.push_back(std::move(**e));
      }
      std::vector<acked_set> want;
      for (const acked_set& a : acked) {
        if (a.seq > from.seq) want.push_back(a);
      }
      ASSERT_EQ(events.size(), want.size())
          << "round " << round << ": a resume from seq " << from.seq << " replayed the wrong number of changes";
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(events[i].seq, want[i].seq) << "round " << round << ", change " << i;
        ASSERT_EQ(events[i].key, history_key(want[i].key)) << "round " << round << ", change " << i;
        ASSERT_EQ(events[i].version, want[i].version) << "round " << round << ", change " << i;
      }
    }
    for (std::uint64_t k = 0; k < 5; ++k) {
      std::uint64_t last = 0;
      for (const acked_set& a : acked) {
        if (a.key == k) last = a.version;
      }
      auto version = (*kv)->version(history_key(k));
      ASSERT_TRUE(version.has_value());
      ASSERT_GE(*version, last) << "round " << round << ": an acknowledged set of " << history_key(k) << " is lost";
    }
    ASSERT_TRUE((*kv)->close());
  }
  RecordProperty("resumed", resumed);
  RecordProperty("compacted", compacted);
  EXPECT_GT(resumed, 0) << "no kill fell where a history was saved: the test checked nothing";
}

/// What the disk-full child reports through its pipe.
struct full_report {
  std::uint64_t acknowledged = 0;  // transactions acknowledged before the first failure
  int failure_code = 0;
  char message[200] = {};
  std::uint64_t count_after = 0;  // "/full/count" read right after the failure, in the same opening
  bool failed_visible = false;    // a key of the failed transaction was readable then
};

std::string big_value(std::uint64_t n, int key) {
  return std::string(64 << 10, static_cast<char>('a' + (n + static_cast<std::uint64_t>(key)) % 26));
}

std::string full_key(std::uint64_t n, int k) { return "/full/" + std::to_string(n) + "/k" + std::to_string(k); }

/// Transactions setting four 64 KiB values (and the count) over three shards until one fails.
full_report fill_until_full(const std::string& dir) {
  full_report r;
  auto kv = test::open_kv(three_shards, dir);
  if (!kv) {
    std::snprintf(r.message, sizeof r.message, "open: %s", kv.error().to_string().c_str());
    return r;
  }
  for (std::uint64_t n = 1; n < 2000; ++n) {
    std::vector<kv_op> ops{kv_op::set("/full/count", std::to_string(n))};
    for (int k = 0; k < 4; ++k) ops.push_back(kv_op::set(full_key(n, k), big_value(n, k)));  // new keys: the files grow
    auto t = (*kv)->transaction(ops);
    if (!t) {
      r.failure_code = static_cast<int>(t.error().code());
      std::snprintf(r.message, sizeof r.message, "%s", t.error().to_string().c_str());
      auto count = (*kv)->get("/full/count");
      if (count) r.count_after = std::stoull(count->value);
      for (int k = 0; k < 4; ++k) r.failed_visible |= (*kv)->exists(full_key(n, k)).value_or(true);
      break;
    }
    r.acknowledged = n;
  }
  return r;
}

// A full disk (RLIMIT_FSIZE in a child): the transaction that cannot be stored fails with no_space -- room
// in every shard is made before the batch's commit point -- and the same opening still reads every
// acknowledged transaction and nothing of the failed one; after a reopen with space, every acknowledged
// transaction is there whole.
TEST(KvCrashTest, AFullDiskLosesNoAcknowledgedTransaction) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("full");
  const auto report =
      test::run_under_file_size_limit<full_report>(rlim_t{6} << 20, [&] { return fill_until_full(dir); });
  ASSERT_TRUE(report.has_value());
  const full_report& r = *report;
  RecordProperty("acknowledged", std::to_string(r.acknowledged));
  RecordProperty("failure", r.message);
  ASSERT_GT(r.acknowledged, 0U) << r.message;
  ASSERT_EQ(r.failure_code, static_cast<int>(errc::no_space)) << "the disk filled without a no_space: " << r.message;
  EXPECT_EQ(r.count_after, r.acknowledged) << "after the failure the store read another count";
  EXPECT_FALSE(r.failed_visible) << "after the failure the store showed part of the failed transaction";

  auto kv = test::open_kv(three_shards, dir);
  ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
  const std::uint64_t n = std::stoull((*kv)->get("/full/count").value().value);
  ASSERT_GE(n, r.acknowledged) << "an acknowledged transaction is lost";
  ASSERT_LE(n, r.acknowledged + 1) << "a transaction never made appeared";
  for (std::uint64_t t = 1; t <= n; ++t) {
    for (int k = 0; k < 4; ++k) {
      auto e = (*kv)->get(full_key(t, k));
      ASSERT_TRUE(e.has_value()) << "transaction " << t << " lacks key " << k << ": " << e.error().to_string();
      ASSERT_EQ(e->value, big_value(t, k)) << "transaction " << t << ", key " << k;
    }
  }
  EXPECT_FALSE((*kv)->exists(full_key(n + 1, 0)).value()) << "a part of a transaction that did not commit";
}

/// What the history-save child reports: how close() went, and the seq before its sets.
struct close_report {
  std::uint64_t first_seq = 0;  // current_seq() before the sets
  std::uint64_t sets = 0;       // acknowledged
  int close_code = -1;          // 0: close() succeeded
  char message[200] = {};
};

// A history too big for the disk: close() cannot save it (the record's log segment passes the file size
// limit), yet closes the shards, and every acknowledged set is there after the reopen; a watch from a seq
// of that opening is compacted, as after a crash -- never replayed from a history that was not saved.
TEST(KvCrashTest, AHistoryTheDiskCannotHoldIsNotSavedAndLosesNothing) {
  test::temp_dir tmp;
  const std::string dir = tmp.sub("history-full");
  // One key rewritten 150 times with 64 KiB values: the tree stays small, the history holds ~9.6 MB.
  const auto report = test::run_under_file_size_limit<close_report>(rlim_t{8} << 20, [&] {
    close_report r;
    auto kv = test::open_kv(durable_two_shards, dir);
    if (!kv) {
      std::snprintf(r.message, sizeof r.message, "open: %s", kv.error().to_string().c_str());
      return r;
    }
    r.first_seq = (*kv)->current_seq();
    for (std::uint64_t i = 1; i <= 150; ++i) {
      auto v = (*kv)->set("/big", std::string(64 << 10, static_cast<char>('a' + i % 26)));
      if (!v) {
        std::snprintf(r.message, sizeof r.message, "set %llu: %s", static_cast<unsigned long long>(i),
                      v.error().to_string().c_str());
        return r;
      }
      r.sets = i;
    }
    auto closed = (*kv)->close();
    r.close_code = closed ? 0 : static_cast<int>(closed.error().code());
    if (!closed) std::snprintf(r.message, sizeof r.message, "close: %s", closed.error().to_string().c_str());
    return r;
  });
  ASSERT_TRUE(report.has_value());
  ASSERT_EQ(report->sets, 150U) << report->message;
  EXPECT_EQ(report->close_code, 0) << "a history that cannot be saved fails close: " << report->message;

  auto kv = test::open_kv(durable_two_shards, dir);
  ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
  auto big = (*kv)->get("/big");
  ASSERT_TRUE(big.has_value()) << big.error().to_string();
  EXPECT_EQ(big->version, 150U);
  EXPECT_EQ(big->value, std::string(64 << 10, static_cast<char>('a' + 150 % 26)));
  auto w = (*kv)->watch("*", {.from_seq = report->first_seq});
  ASSERT_FALSE(w.has_value()) << "a history was saved after all: raise the sets or lower the limit";
  EXPECT_EQ(w.error().code(), errc::compacted);
}

}  // namespace
}  // namespace tessel
