// kill -9 during a checkpoint import into a durable (mmap) store. The import builds the tree bottom-up and
// makes it durable with one commit, logging nothing, so after any kill the reopened store holds either
// nothing or the whole file -- never a part of it -- and the whole file once the import was acknowledged.
// `check` must find the store healthy either way. Label crash.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include <unistd.h>

#include "tessel/checkpoint.hpp"
#include "tessel/snapshot.hpp"
#include "tessel/store.hpp"

#include "store/store_check.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/kill_child.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

constexpr int rounds = 24;
constexpr std::uint64_t imported_marker = 1;

/// Opens the store at `dir`, imports `file`, acknowledges, then waits to be killed.
[[noreturn]] void import_then_wait(const std::string& dir, const std::string& file, int ack_fd) {
  auto s = store::open(dir, test::durable_options(durability::log));
  if (!s) _exit(2);
  if (::write(ack_fd, &test::opened_marker, sizeof test::opened_marker) < 0) _exit(3);
  if (!import_checkpoint(file, **s)) _exit(4);
  if (::write(ack_fd, &imported_marker, sizeof imported_marker) < 0) _exit(3);
  while (true) ::pause();
}

TEST(CheckpointCrashTest, AKilledImportLeavesNothingOrEverything) {
  test::temp_dir tmp;
  // The file: keys of several shapes, values up to a few KiB.
  test::model model;
  const std::string file = tmp.sub("source.tcp");
  {
    auto source = store::open(options{});
    ASSERT_TRUE(source.has_value());
    for (int i = 0; i < 20000; ++i) {
      std::string key = "/tenants/t" + std::to_string(i % 37) + "/items/" + std::to_string(i * 7919 % 100003);
      std::string value(static_cast<std::size_t>(i % 13 == 0 ? 3000 : 40 + i % 90), static_cast<char>('a' + i % 26));
      ASSERT_TRUE((*source)->put(as_bytes(key), as_bytes(value)).has_value());
      model[key] = value;
    }
    auto snap = (*source)->snapshot();
    ASSERT_TRUE(snap.has_value());
    ASSERT_TRUE(export_checkpoint(*snap, file).has_value());
  }
  // Kills are timed against one import, measured here (the second of two: the first pays for the file's
  // first reading).
  std::uint64_t import_us = 0;
  for (const std::string probe_dir : {"probe1", "probe2"}) {
    const auto start = std::chrono::steady_clock::now();
    auto probe = test::must_open(tmp.sub(probe_dir), test::durable_options(durability::log));
    ASSERT_TRUE(probe);
    ASSERT_TRUE(import_checkpoint(file, *probe).has_value());
    import_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
  }

  std::mt19937_64 rng(20261128);
  int empty = 0;
  int whole = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::string dir = tmp.sub("store" + std::to_string(round));
    // Even rounds kill within a quarter of an import's time, nearly always inside it; odd rounds within
    // eight imports' time, nearly always after it -- so both outcomes are met however fast this machine is
    // at the moment, as long as the children import at about the probe's pace.
    const std::uint64_t max_delay_us = round % 2 == 0 ? import_us / 4 : 8 * import_us;
    const test::killed_child run =
        test::run_and_kill([&](int ack_fd) { import_then_wait(dir, file, ack_fd); }, true, rng, max_delay_us);
    ASSERT_TRUE(run.killed) << "the child stopped by itself with exit code " << run.exit_code;
    const bool acknowledged = !run.acks.empty();
    {
      auto s = test::must_open(dir, test::durable_options(durability::log));
      ASSERT_TRUE(s);
      const test::pairs got = test::scan_all(*s);
      if (got.empty()) {
        ASSERT_FALSE(acknowledged) << "round " << round << ": an acknowledged import is gone";
        ++empty;
      } else {
        ASSERT_EQ(got, test::pairs(model.begin(), model.end())) << "round " << round << ": a part of the file";
        ++whole;
      }
      ASSERT_TRUE(s->close().has_value());
    }
    const auto report = check_store(dir);
    ASSERT_TRUE(report.has_value()) << report.error().to_string();
    ASSERT_TRUE(report->problems.empty()) << "round " << round << ": " << report->problems.front();
    std::filesystem::remove_all(dir);
  }
  EXPECT_GT(empty, 0) << "no kill landed inside an import";
  EXPECT_GT(whole, 0) << "no import finished before its kill";
  ::testing::Test::RecordProperty("killed_inside", std::to_string(empty));
  ::testing::Test::RecordProperty("killed_after", std::to_string(whole));
}

}  // namespace
}  // namespace tessel
