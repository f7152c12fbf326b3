// pmem stores across reopen and failure: what each durability level keeps after a close and after a crash,
// the operation log area filling up, records larger than the area, a full pool (no_space, nothing lost,
// usable again after deletes), a crash before each step of a commit, leaked objects found and freed, open
// modes and the pool lock, read-only opens, damaged pools (root object, format version, truncation), and
// atomic batches (one log record; a commit in a pool made before batch records).
// Runs with PMEM_IS_PMEM_FORCE=1 (flush-based persistence); kill_crash_test covers the msync path.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tessel/store.hpp"

#include "pmem/pool_format.hpp"
#include "store/deferred_sync.hpp"
#include "store/pool_open.hpp"
#include "store/store_impl.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/pmem_env.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using detail::commit_step;
using detail::store_access;
using test::crash;
using test::expect_contents;
using test::model;
using test::must_open;
using ::testing::HasSubstr;

options pool_options(durability d, std::uint64_t pool_bytes = 32 << 20) {
  test::force_pmem_flush();
  options o;
  o.backend = backend::pmem;
  o.durability = d;
  o.pool_bytes = pool_bytes;
  o.log_segment_bytes = 256 << 10;
  return o;
}

std::string key_of(int i) { return "key/" + std::to_string(i); }
std::string value_of(int i, int round = 0) { return "value-" + std::to_string(i) + "-" + std::to_string(round); }

const detail::pool_recovery& recovery_of(store& s) { return store_access::impl(s).durable()->pool_recovery; }

class PoolStoreTest : public ::testing::Test {
 protected:
  [[nodiscard]] std::filesystem::path pool_file() const { return std::filesystem::path(dir_) / detail::pool_file_name; }
  /// The pool-file offset of the root object of the closed store.
  std::uint64_t root_offset() {
    auto s = must_open(dir_, pool_options(durability::none));
    if (!s) return 0;
    const pmem::pool_region& pool = *store_access::impl(*s).pool();
    return static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(&pool.root()) - pool.base());
  }
  /// A closed store holding `m`, written at durability none.
  void make_store(model& m, int keys) {
    auto s = must_open(dir_, pool_options(durability::none));
    ASSERT_TRUE(s);
    for (int i = 0; i < keys; ++i) {
      ASSERT_TRUE(s->put_string(key_of(i), value_of(i)));
      m[key_of(i)] = value_of(i);
    }
    ASSERT_TRUE(s->close());
  }

  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
};

// ---- Reopen and crash ----

TEST_F(PoolStoreTest, DurabilityNoneWritesSurviveCloseAndReopen) {
  model m;
  make_store(m, 2000);
  auto s = must_open(dir_, pool_options(durability::none));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
  EXPECT_TRUE(recovery_of(*s).was_clean);
  EXPECT_FALSE(recovery_of(*s).audited) << "a clean close needs no audit";
}

TEST_F(PoolStoreTest, LogAndSyncWritesSurviveACrash) {
  for (const durability d : {durability::log, durability::sync}) {
    SCOPED_TRACE(d == durability::log ? "log" : "sync");
    std::filesystem::remove_all(dir_);
    model m;
    {
      auto s = must_open(dir_, pool_options(d));
      ASSERT_TRUE(s);
      for (int i = 0; i < 3000; ++i) {
        ASSERT_TRUE(s->put_string(key_of(i % 1000), value_of(i)));
        m[key_of(i % 1000)] = value_of(i);
        if (i % 7 == 0) {
          ASSERT_TRUE(s->erase(as_bytes(key_of(i % 500))));
          m.erase(key_of(i % 500));
        }
      }
      crash(std::move(s));
    }
    auto s = must_open(dir_, pool_options(d));
    ASSERT_TRUE(s);
    expect_contents(*s, m);
    EXPECT_FALSE(recovery_of(*s).was_clean);
    EXPECT_TRUE(recovery_of(*s).audited);
    EXPECT_EQ(recovery_of(*s).leaked_objects, 0U) << "a publish frees what it stops reaching";
    EXPECT_FALSE(recovery_of(*s).torn.has_value()) << *recovery_of(*s).torn;
  }
}

TEST_F(PoolStoreTest, AFullLogAreaCommitsAndLosesNothing) {
  model m;
  {
    options o = pool_options(durability::log);
    o.log_segment_bytes = 8192;  // a few dozen records
    auto s = must_open(dir_, o);
    ASSERT_TRUE(s);
    for (int i = 0; i < 5000; ++i) {
      ASSERT_TRUE(s->put_string(key_of(i), value_of(i)));
      m[key_of(i)] = value_of(i);
    }
    EXPECT_GT(store_access::impl(*s).pool()->root().meta.generation, 20U) << "the area filled and committed";
    crash(std::move(s));
  }
  auto s = must_open(dir_, pool_options(durability::log));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
}

TEST_F(PoolStoreTest, ARecordLargerThanTheLogAreaIsCommittedInstead) {
  options o = pool_options(durability::log);
  o.log_segment_bytes = 8192;
  const std::string big(100'000, 'b');
  {
    auto s = must_open(dir_, o);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_string("small", "1"));
    ASSERT_TRUE(s->put_string("big", big));
    ASSERT_TRUE(s->put_string("after", "2"));
    crash(std::move(s));
  }
  auto s = must_open(dir_, o);
  ASSERT_TRUE(s);
  expect_contents(*s, {{"after", "2"}, {"big", big}, {"small", "1"}});
}

// ---- Atomic batches ----

const std::vector<detail::batch_op> pool_batch{{false, "a", "x"}, {false, "b", "y"}, {true, "goes", ""}};
const model after_pool_batch{{"a", "x"}, {"b", "y"}, {"stays", "1"}};

/// Writes "stays" and "goes", then pool_batch; returns the root's generation before the batch.
std::uint64_t write_pool_batch(store& s) {
  EXPECT_TRUE(s.put_string("stays", "1"));
  EXPECT_TRUE(s.put_string("goes", "2"));
  const std::uint64_t generation = store_access::impl(s).pool()->root().meta.generation;
  detail::owed_sync owed;
  auto ok = detail::write_batch_owing_sync(s, pool_batch, owed);
  EXPECT_TRUE(ok) << ok.error().to_string();
  EXPECT_TRUE(owed.empty()) << "a pool's record is durable before the write returns";
  return generation;
}

TEST_F(PoolStoreTest, ABatchIsOneLogRecordAndSurvivesACrashWhole) {
  {
    auto s = must_open(dir_, pool_options(durability::log));
    ASSERT_TRUE(s);
    EXPECT_NE(store_access::impl(*s).pool()->root().incompat_features & pmem::pool_batch_records, 0U);
    const pmem::pool_log& log = *store_access::impl(*s).durable()->pool_log;
    const std::uint64_t before = log.last_seq() + 2;  // after the two puts
    write_pool_batch(*s);
    EXPECT_EQ(log.last_seq(), before + 1) << "three writes took more than one record";
    crash(std::move(s));
  }
  auto s = must_open(dir_, pool_options(durability::log));
  ASSERT_TRUE(s);
  expect_contents(*s, after_pool_batch);
}

// A pool made before batch records (its root lacks the feature bit) must stay readable by the builds that
// made it: its batches are made durable by a commit, with no record, and the bit is never set.
TEST_F(PoolStoreTest, APoolFromBeforeBatchRecordsCommitsItsBatchesInstead) {
  model m;
  make_store(m, 0);
  const std::uint64_t root = root_offset();
  auto bytes = test::read_bytes(pool_file(), root, sizeof(pmem::pool_root));
  ASSERT_EQ(bytes.size(), sizeof(pmem::pool_root));
  pmem::pool_root r{};
  std::memcpy(&r, bytes.data(), sizeof r);
  r.incompat_features &= ~std::uint32_t{pmem::pool_batch_records};
  r.checksum = pmem::root_checksum(r);
  std::memcpy(bytes.data(), &r, sizeof r);
  test::write_bytes(pool_file(), root, bytes);
  {
    auto s = must_open(dir_, pool_options(durability::log));
    ASSERT_TRUE(s);
    const std::uint64_t generation = write_pool_batch(*s);
    EXPECT_GT(store_access::impl(*s).pool()->root().meta.generation, generation) << "the batch did not commit";
    EXPECT_EQ(store_access::impl(*s).pool()->root().incompat_features & pmem::pool_batch_records, 0U);
    crash(std::move(s));
  }
  auto s = must_open(dir_, pool_options(durability::log));
  ASSERT_TRUE(s);
  expect_contents(*s, after_pool_batch);
}

TEST_F(PoolStoreTest, RandomWorkloadMatchesTheModelAcrossCheckpointsCrashesAndReopens) {
  std::mt19937_64 rng(42);
  model m;
  for (int round = 0; round < 6; ++round) {
    auto s = must_open(dir_, pool_options(round % 2 == 0 ? durability::log : durability::sync));
    ASSERT_TRUE(s);
    expect_contents(*s, m);
    for (int i = 0; i < 4000; ++i) {
      const int k = static_cast<int>(rng() % 3000);
      if (rng() % 4 == 0) {
        ASSERT_TRUE(s->erase(as_bytes(key_of(k))));
        m.erase(key_of(k));
      } else {
        const std::string v(rng() % 300, static_cast<char>('a' + k % 26));
        ASSERT_TRUE(s->put_string(key_of(k), v));
        m[key_of(k)] = v;
      }
      if (i == 2000) {
        ASSERT_TRUE(s->checkpoint());
      }
    }
    if (round % 3 == 2) {
      ASSERT_TRUE(s->close());
    } else {
      crash(std::move(s));
    }
  }
  auto s = must_open(dir_, pool_options(durability::log));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
}

// ---- A crash before each step of a commit ----

class PoolCommitCrashTest : public PoolStoreTest, public ::testing::WithParamInterface<commit_step> {};

TEST_P(PoolCommitCrashTest, ReopenHasTheLastCommitAndTheLoggedWritesAfterIt) {
  const commit_step stop_at = GetParam();
  model m;
  {
    auto s = must_open(dir_, pool_options(durability::log));
    ASSERT_TRUE(s);
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(s->put_string(key_of(i), value_of(i)));
      m[key_of(i)] = value_of(i);
    }
    ASSERT_TRUE(s->checkpoint());
    for (int i = 250; i < 800; ++i) {  // overwrites retire committed leaves; new keys reserve objects
      ASSERT_TRUE(s->put_string(key_of(i), value_of(i, 1)));
      m[key_of(i)] = value_of(i, 1);
    }
    ASSERT_TRUE(s->erase(as_bytes(key_of(3))));
    m.erase(key_of(3));
    store_access::set_commit_hook(*s, [stop_at](commit_step step) { return step != stop_at; });
    const auto stopped = s->checkpoint();
    ASSERT_FALSE(stopped.has_value());
    EXPECT_EQ(stopped.error().code(), errc::aborted);
    crash(std::move(s));
  }
  auto s = must_open(dir_, pool_options(durability::log));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
  EXPECT_EQ(recovery_of(*s).leaked_objects, 0U);
  EXPECT_EQ(recovery_of(*s).replayed, 551U) << "the writes after the last commit came from the log";
}

INSTANTIATE_TEST_SUITE_P(EachStep, PoolCommitCrashTest,
                         ::testing::Values(commit_step::seal, commit_step::persist_blocks, commit_step::write_meta),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case commit_step::seal: return std::string("Seal");
                             case commit_step::persist_blocks: return std::string("PersistBlocks");
                             case commit_step::write_meta: return std::string("Publish");
                           }
                           return std::string("Unknown");
                         });

TEST_F(PoolStoreTest, AStoppedCommitLeavesTheStoreWritableAndTheNextCommitWhole) {
  model m;
  auto s = must_open(dir_, pool_options(durability::none));
  ASSERT_TRUE(s);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(s->put_string(key_of(i), value_of(i)));
    m[key_of(i)] = value_of(i);
  }
  store_access::set_commit_hook(*s, [](commit_step step) { return step != commit_step::write_meta; });
  ASSERT_FALSE(s->checkpoint().has_value());
  store_access::set_commit_hook(*s, nullptr);
  for (int i = 0; i < 300; i += 2) {
    ASSERT_TRUE(s->put_string(key_of(i), value_of(i, 2)));
    m[key_of(i)] = value_of(i, 2);
  }
  ASSERT_TRUE(s->checkpoint());
  crash(std::move(s));
  s = must_open(dir_, pool_options(durability::none));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
  EXPECT_EQ(recovery_of(*s).leaked_objects, 0U);
}

// ---- A full pool ----

TEST_F(PoolStoreTest, AFullPoolIsNoSpaceLosesNothingAndTakesWritesAgainAfterDeletes) {
  constexpr std::uint64_t pool_bytes = 16 << 20;
  model m;
  int stored = 0;
  {
    auto s = must_open(dir_, pool_options(durability::none, pool_bytes));
    ASSERT_TRUE(s);
    result<void> last;
    for (; stored < 1'000'000; ++stored) {
      last = s->put_string(key_of(stored), value_of(stored) + std::string(100, 'x'));
      if (!last) break;
      m[key_of(stored)] = value_of(stored) + std::string(100, 'x');
    }
    ASSERT_FALSE(last.has_value()) << "16 MiB took a million entries";
    EXPECT_EQ(last.error().code(), errc::no_space) << last.error().to_string();
    EXPECT_THAT(std::string(last.error().message()), HasSubstr("pool"));
    EXPECT_GT(stored, 10'000);
    expect_contents(*s, m);
    ASSERT_TRUE(s->close()) << "a full pool still commits and closes";
  }
  auto s = must_open(dir_, pool_options(durability::log, pool_bytes));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
  for (int i = 0; i < stored; i += 2) {
    const auto erased = s->erase(as_bytes(key_of(i)));
    ASSERT_TRUE(erased.value_or(false)) << i << ": " << (erased ? "not found" : erased.error().to_string());
    m.erase(key_of(i));
  }
  // Writes of the shape deleted take the freed space. (libpmemobj serves each size class from runs of its
  // own, so space freed in one class serves another only once a whole run is empty.)
  for (int i = 0; i < stored; i += 4) {
    const std::string v = value_of(i, 1) + std::string(100, 'y');
    const auto put = s->put_string(key_of(i), v);
    ASSERT_TRUE(put.has_value()) << "after deleting half, write " << i << ": " << put.error().to_string();
    m[key_of(i)] = v;
  }
  expect_contents(*s, m);
  crash(std::move(s));
  s = must_open(dir_, pool_options(durability::log, pool_bytes));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
}

// clear() of a full pool retires every block at once, and the commit frees them all: a publish that
// large needs more redo log than a full pool has, and the reopen's replay of the clear hit the same wall.
TEST_F(PoolStoreTest, ClearingAFullPoolCommitsAndReopens) {
  constexpr std::uint64_t pool_bytes = 16 << 20;
  {
    auto s = must_open(dir_, pool_options(durability::log, pool_bytes));
    ASSERT_TRUE(s);
    result<void> last;
    for (int i = 0; i < 1'000'000 && last; ++i)
      last = s->put(as_bytes(key_of(i)), as_bytes(std::string("v")), durability::none);
    ASSERT_FALSE(last.has_value()) << "16 MiB took a million entries";
    ASSERT_EQ(last.error().code(), errc::no_space) << last.error().to_string();
    std::cout << s->len() << " entries filled the pool\n";
    ASSERT_TRUE(s->clear());
    const auto committed = s->checkpoint();
    ASSERT_TRUE(committed.has_value()) << committed.error().to_string();
    EXPECT_TRUE(s->is_empty());
    ASSERT_TRUE(s->put_string(key_of(1), "after"));
    crash(std::move(s));
  }
  {
    auto s = must_open(dir_, pool_options(durability::log, pool_bytes));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->len(), 1U);
    EXPECT_EQ(s->get_string(key_of(1)).value_or("?"), "after");
    EXPECT_EQ(recovery_of(*s).leaked_objects, 0U) << "the frees after the root's publish were all published";
    // Again, closed cleanly: the clean-close flag comes after the last free, and the next open finds it.
    for (int i = 0; i < 20'000; ++i)
      ASSERT_TRUE(s->put(as_bytes(key_of(i)), as_bytes(std::string("v")), durability::none));
    ASSERT_TRUE(s->checkpoint());
    ASSERT_TRUE(s->clear());
    ASSERT_TRUE(s->close());
  }
  auto s = must_open(dir_, pool_options(durability::log, pool_bytes));
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->is_empty());
  EXPECT_TRUE(recovery_of(*s).was_clean);
}

TEST_F(PoolStoreTest, APoolBelowLibpmemobjsMinimumIsInvalidArgument) {
  const auto s = store::open(dir_, pool_options(durability::none, 1 << 20));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(s.error().message()), HasSubstr("minimum"));
  EXPECT_FALSE(detail::pool_store_exists(dir_)) << "a failed create leaves no pool behind";
}

// ---- Leaked objects ----

TEST_F(PoolStoreTest, ObjectsNothingReachesAreFoundAndFreedAfterAnUncleanClose) {
  model m;
  make_store(m, 100);
  {
    // Objects published with no tree block in them, as a lost deferred free would leave them.
    auto pool = pmem::pool_region::open(pool_file(), false);
    ASSERT_TRUE(pool.has_value()) << pool.error().to_string();
    ASSERT_NE((*pool)->allocate(100), 0U);
    ASSERT_NE((*pool)->allocate(5000), 0U);
    pmem::pool_meta meta = (*pool)->root().meta;
    meta.flags = 0;  // unclean: the next open audits
    ASSERT_TRUE((*pool)->publish(meta));
  }
  {
    auto s = must_open(dir_, pool_options(durability::none));
    ASSERT_TRUE(s);
    EXPECT_TRUE(recovery_of(*s).audited);
    EXPECT_EQ(recovery_of(*s).leaked_objects, 2U);
    EXPECT_GE(recovery_of(*s).leaked_bytes, 5100U);
    expect_contents(*s, m);
    crash(std::move(s));
  }
  auto s = must_open(dir_, pool_options(durability::none));
  ASSERT_TRUE(s);
  EXPECT_TRUE(recovery_of(*s).audited);
  EXPECT_EQ(recovery_of(*s).leaked_objects, 0U) << "the first open freed them";
  expect_contents(*s, m);
}

// ---- Open modes, the lock, read-only ----

TEST_F(PoolStoreTest, SecondOpenWhileTheFirstLivesIsBusy) {
  auto first = must_open(dir_, pool_options(durability::none));
  ASSERT_TRUE(first);
  const auto second = store::open(dir_, pool_options(durability::none));
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), errc::busy) << second.error().to_string();
  first.reset();
  EXPECT_TRUE(store::open(dir_, pool_options(durability::none)).has_value());
}

TEST_F(PoolStoreTest, OpenModesAreHonoured) {
  options o = pool_options(durability::none);
  o.mode = open_mode::open_existing;
  auto missing = store::open(dir_, o);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), errc::not_found);
  model m;
  make_store(m, 10);
  o.mode = open_mode::create_new;
  auto exists = store::open(dir_, o);
  ASSERT_FALSE(exists.has_value());
  EXPECT_EQ(exists.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(exists.error().message()), HasSubstr("already exists"));
}

TEST_F(PoolStoreTest, AStoreOfTheOtherBackendIsNamed) {
  model m;
  make_store(m, 10);
  options as_mmap = test::durable_options(durability::none);
  const auto opened = store::open(dir_, as_mmap);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(opened.error().message()), HasSubstr("pmem"));

  const std::string mmap_dir = tmp_.sub("mmap");
  ASSERT_TRUE(store::open(mmap_dir, as_mmap).has_value());
  const auto as_pool = store::open(mmap_dir, pool_options(durability::none));
  ASSERT_FALSE(as_pool.has_value());
  EXPECT_EQ(as_pool.error().code(), errc::invalid_argument);
  EXPECT_THAT(std::string(as_pool.error().message()), HasSubstr("mmap"));
}

TEST_F(PoolStoreTest, ReadOnlyOpenReadsRefusesWritesAndChangesNoByte) {
  model m;
  make_store(m, 500);
  const std::uint64_t before = test::file_hash(pool_file());
  {
    options o = pool_options(durability::none);
    o.read_only = true;
    auto s = must_open(dir_, o);
    ASSERT_TRUE(s);
    expect_contents(*s, m);
    const auto put = s->put_string("x", "y");
    ASSERT_FALSE(put.has_value());
    EXPECT_EQ(put.error().code(), errc::not_supported);
    EXPECT_FALSE(s->contains(as_bytes("x")));
  }
  EXPECT_EQ(test::file_hash(pool_file()), before);
}

TEST_F(PoolStoreTest, NewPoolIsOwnerOnlyByDefault) {
  model m;
  make_store(m, 1);
  EXPECT_EQ(std::filesystem::status(pool_file()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

// ---- Damaged pools ----

TEST_F(PoolStoreTest, BadRootMagicIsCorruption) {
  model m;
  make_store(m, 10);
  const std::uint64_t root = root_offset();
  test::flip_byte(pool_file(), root + 2);
  const auto s = store::open(dir_, pool_options(durability::none));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), errc::corruption) << s.error().to_string();
}

TEST_F(PoolStoreTest, FlippedMetaByteIsCorruptionNamingTheChecksum) {
  model m;
  make_store(m, 10);
  const std::uint64_t root = root_offset();
  test::flip_byte(pool_file(), root + offsetof(pmem::pool_root, meta) + 8);  // the tree's root reference
  const auto s = store::open(dir_, pool_options(durability::none));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), errc::corruption);
  EXPECT_THAT(std::string(s.error().message()), HasSubstr("checksum"));
}

TEST_F(PoolStoreTest, NewerFormatVersionIsVersionMismatch) {
  model m;
  make_store(m, 10);
  const std::uint64_t root = root_offset();
  auto bytes = test::read_bytes(pool_file(), root, sizeof(pmem::pool_root));
  ASSERT_EQ(bytes.size(), sizeof(pmem::pool_root));
  pmem::pool_root r{};
  std::memcpy(&r, bytes.data(), sizeof r);
  r.format_version = pmem::pool_format_version + 1;
  r.checksum = pmem::root_checksum(r);
  std::memcpy(bytes.data(), &r, sizeof r);
  test::write_bytes(pool_file(), root, bytes);
  const auto s = store::open(dir_, pool_options(durability::none));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), errc::version_mismatch) << s.error().to_string();
}

TEST_F(PoolStoreTest, TruncatedOrGarbledPoolFilesAreCorruption) {
  model m;
  make_store(m, 10);
  const auto whole = test::read_whole(pool_file());
  for (const std::uint64_t size : {std::uint64_t{0}, std::uint64_t{4096}, std::uint64_t{whole.size() / 2}}) {
    SCOPED_TRACE("truncated to " + std::to_string(size));
    test::truncate_file(pool_file(), size);
    const auto s = store::open(dir_, pool_options(durability::none));
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), errc::corruption) << s.error().to_string();
    test::write_bytes(pool_file(), 0, whole);
  }
  test::flip_byte(pool_file(), 10);  // libpmemobj's pool header
  const auto s = store::open(dir_, pool_options(durability::none));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), errc::corruption) << s.error().to_string();
}

}  // namespace
}  // namespace tessel
