// kv_store::transaction over every store configuration: checks and writes all or nothing, the first
// failing check named, versions reported per op, and atomicity across shards as a cut sees it.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/kv_store.hpp"

#include "tests/kv/kv_test_support.hpp"

namespace tessel {
namespace {

using KvTransactionTest = test::kv_test;

TEST_P(KvTransactionTest, ChecksThatHoldLetEveryWriteApply) {
  ASSERT_TRUE(kv_->set("/nodes/a/workloads", "a1"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(kv_->set("/nodes/b/workloads", "b"));
  auto r =
      kv_->transaction({kv_op::check_version("/nodes/a/workloads", 1), kv_op::check_version("/nodes/b/workloads", 3),
                        kv_op::set("/nodes/a/workloads", "a2"), kv_op::set("/nodes/b/workloads", "b4"),
                        kv_op::check_missing("/nodes/c/workloads"), kv_op::set("/nodes/c/workloads", "c1")});
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->versions, (std::vector<std::uint64_t>{0, 0, 2, 4, 0, 1}));
  EXPECT_GT(r->seq, 0U);
  EXPECT_EQ(kv_->get("/nodes/a/workloads")->value, "a2");
  EXPECT_EQ(kv_->get("/nodes/b/workloads")->version, 4U);
  EXPECT_EQ(kv_->get("/nodes/c/workloads")->value, "c1");
}

TEST_P(KvTransactionTest, AFailingCheckWritesNothingAndNamesItself) {
  ASSERT_TRUE(kv_->set("/x", "x1"));
  ASSERT_TRUE(kv_->set("/y", "y1"));
  auto r = kv_->transaction({kv_op::set("/x", "x2"), kv_op::check_version("/x", 1), kv_op::check_version("/y", 7),
                             kv_op::check_missing("/x"), kv_op::set("/z", "z1")});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), errc::conflict);
  ASSERT_NE(r.error().conflict(), nullptr);
  EXPECT_EQ(r.error().conflict()->op_index, 2U) << "the first failing check, in op order";
  EXPECT_EQ(r.error().conflict()->key, "/y");
  EXPECT_EQ(r.error().conflict()->expected, 7U);
  EXPECT_EQ(r.error().conflict()->found, 1U);
  EXPECT_NE(r.error().message().find("op 2"), std::string_view::npos) << r.error().message();
  EXPECT_EQ(kv_->get("/x")->value, "x1");
  EXPECT_EQ(kv_->exists("/z"), false);
}

TEST_P(KvTransactionTest, CheckExistsAndCheckMissing) {
  ASSERT_TRUE(kv_->set("/present", "p"));
  EXPECT_TRUE(kv_->transaction({kv_op::check_exists("/present"), kv_op::check_missing("/absent")}));
  auto exists = kv_->transaction({kv_op::check_exists("/absent")});
  ASSERT_FALSE(exists.has_value());
  EXPECT_EQ(exists.error().conflict()->expected, version_conflict::any_version);
  EXPECT_EQ(exists.error().conflict()->found, 0U);
  auto missing = kv_->transaction({kv_op::check_missing("/present")});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().conflict()->found, 1U);
}

TEST_P(KvTransactionTest, ChecksSeeTheStateBeforeTheTransaction) {
  ASSERT_TRUE(kv_->set("/c", "1"));
  auto r = kv_->transaction({kv_op::set("/c", "2"), kv_op::check_version("/c", 1)});
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(kv_->get("/c")->version, 2U);
}

TEST_P(KvTransactionTest, WritesToOneKeyApplyInOrder) {
  auto r = kv_->transaction(
      {kv_op::set("/k", "a"), kv_op::set("/k", "b"), kv_op::erase("/k"), kv_op::set("/k", "c"), kv_op::erase("/gone")});
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->versions, (std::vector<std::uint64_t>{1, 2, 2, 1, 0}));
  EXPECT_EQ(kv_->get("/k")->value, "c");
  EXPECT_EQ(kv_->get("/k")->version, 1U);
}

TEST_P(KvTransactionTest, OnlyChecksCommitNothing) {
  ASSERT_TRUE(kv_->set("/a", "1"));
  const std::uint64_t seq = kv_->current_seq();
  auto r = kv_->transaction({kv_op::check_version("/a", 1)});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->seq, 0U);
  EXPECT_EQ(kv_->current_seq(), seq);
}

TEST_P(KvTransactionTest, BadOpsAreRefusedBeforeAnythingIsRead) {
  EXPECT_EQ(kv_->transaction({}).error().code(), errc::invalid_argument);
  auto bad = kv_->transaction({kv_op::set("/ok", "v"), kv_op::set("not/a/path", "v")});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), errc::invalid_argument);
  EXPECT_NE(bad.error().message().find("op 1"), std::string_view::npos) << bad.error().message();
  EXPECT_EQ(kv_->exists("/ok"), false);
}

TEST_P(KvTransactionTest, ACutSeesATransactionWholeOrNotAtAll) {
  // Transfers between accounts spread over the shards: every cut (list) sums to the same total.
  constexpr int accounts = 8;
  std::vector<kv_op> init;
  for (int i = 0; i < accounts; ++i) init.push_back(kv_op::set("/acct/" + std::to_string(i), "100"));
  ASSERT_TRUE(kv_->transaction(init));
  std::atomic<bool> stop{false};
  std::thread mover([&] {
    for (int n = 0; n < 300; ++n) {
      const std::string from = "/acct/" + std::to_string(n % accounts);
      const std::string to = "/acct/" + std::to_string((n * 3 + 1) % accounts);
      if (from == to) continue;
      auto a = kv_->get(from).value();
      auto b = kv_->get(to).value();
      const int amount = 1 + n % 5;
      (void)kv_->transaction({kv_op::check_version(from, a.version), kv_op::check_version(to, b.version),
                              kv_op::set(from, std::to_string(std::stoi(a.value) - amount)),
                              kv_op::set(to, std::to_string(std::stoi(b.value) + amount))});
    }
    stop = true;
  });
  int cuts = 0;
  while (!stop || cuts == 0) {
    long total = 0;
    ASSERT_TRUE(kv_->scan("/acct/", [&](std::string_view, const kv_entry& e) {
      total += std::stol(e.value);
      return true;
    }));
    ASSERT_EQ(total, 100L * accounts) << "a cut saw part of a transfer";
    ++cuts;
  }
  mover.join();
}

INSTANTIATE_TEST_SUITE_P(Configs, KvTransactionTest, ::testing::ValuesIn(test::kv_configs()), test::kv_config_name);

}  // namespace
}  // namespace tessel
