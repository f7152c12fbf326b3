// kill -9 during transfer transactions: a child moves amounts between accounts spread over three shards
// of a durable kv store (each transfer a checked transaction), acknowledging each to its parent; the
// parent kills it at random moments and reopens. The total is always the same -- no transfer half applied
// -- and every acknowledged transfer is there: the child also counts its transfers in a key of the same
// transaction. Label crash.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

#include "tessel/kv_store.hpp"

#include "tests/kv/kv_test_support.hpp"
#include "tests/support/kill_child.hpp"

namespace tessel {
namespace {

constexpr int kills = 40;
constexpr int accounts = 6;
const test::kv_config three_shards{"mmap_3_shards", backend::mmap, 3, shard_mode::inline_calls, durability::log};

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

}  // namespace
}  // namespace tessel
