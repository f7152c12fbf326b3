// Durable (mmap) stores across reopen: what each durability level keeps after a clean close and after a
// crash (power-loss simulation), a large randomized reopen against a std::map model, open modes, the
// directory lock, read-only opens that write nothing, file permissions, and space reuse across reopens.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "tessel/store.hpp"

#include "mmap/store_file.hpp"
#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using test::crash;
using test::durable_options;
using test::expect_contents;
using test::model;
using test::must_open;
using ::testing::HasSubstr;

class DurableStoreTest : public ::testing::Test {
 protected:
  test::temp_dir tmp_;
  std::string dir_ = tmp_.sub("store");
};

// ---- Reopen ----

TEST_F(DurableStoreTest, DurabilityNoneWritesSurviveCloseAndReopen) {
  model m;
  {
    auto s = must_open(dir_, durable_options(durability::none));
    ASSERT_TRUE(s);
    for (int i = 0; i < 100; ++i) {
      const std::string k = "key" + std::to_string(i);
      const std::string v = "value" + std::to_string(i * 7);
      ASSERT_TRUE(s->put_string(k, v));
      m[k] = v;
    }
    ASSERT_TRUE(s->erase(as_bytes("key3")));
    m.erase("key3");
    ASSERT_TRUE(s->close());
  }
  auto s = must_open(dir_, durable_options(durability::none));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
}

TEST_F(DurableStoreTest, DurabilitySyncWritesSurviveCrashWithoutClose) {
  model m;
  {
    auto s = must_open(dir_, durable_options(durability::sync, /*power_loss=*/true));
    ASSERT_TRUE(s);
    for (int i = 0; i < 50; ++i) {
      const std::string k = "k" + std::to_string(i);
      const std::string v(static_cast<std::size_t>(i) * 3 + 1, static_cast<char>('a' + i % 26));
      ASSERT_TRUE(s->put_string(k, v));
      m[k] = v;
    }
    ASSERT_TRUE(s->erase(as_bytes("k10")));
    m.erase("k10");
    ASSERT_TRUE(s->put_string("k11", "overwritten"));
    m["k11"] = "overwritten";
    crash(std::move(s));
  }
  auto s = must_open(dir_, durable_options(durability::sync, true));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
}

TEST_F(DurableStoreTest, DurabilityNoneCrashKeepsExactlyTheLastCheckpoint) {
  model at_checkpoint;
  {
    auto s = must_open(dir_, durable_options(durability::none, /*power_loss=*/true));
    ASSERT_TRUE(s);
    for (int i = 0; i < 200; ++i) {
      const std::string k = "a/" + std::to_string(i);
      ASSERT_TRUE(s->put_string(k, "v" + std::to_string(i)));
      at_checkpoint[k] = "v" + std::to_string(i);
    }
    ASSERT_TRUE(s->checkpoint());
    // After the checkpoint: new keys, overwrites and erases, none of which may survive the crash.
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(s->put_string("b/" + std::to_string(i), "lost"));
    for (int i = 0; i < 200; i += 2) ASSERT_TRUE(s->put_string("a/" + std::to_string(i), "lost"));
    for (int i = 1; i < 200; i += 4) ASSERT_TRUE(s->erase(as_bytes("a/" + std::to_string(i))));
    crash(std::move(s));
  }
  auto s = must_open(dir_, durable_options(durability::none, true));
  ASSERT_TRUE(s);
  expect_contents(*s, at_checkpoint);
}

/// A random key: mostly short keys over a small alphabet, so prefixes and shared paths are common.
std::string random_key(std::mt19937_64& rng) {
  static constexpr char alphabet[] = "abcd/0123";
  std::uniform_int_distribution<std::size_t> len(0, 24);
  std::uniform_int_distribution<std::size_t> ch(0, sizeof(alphabet) - 2);
  std::string k(len(rng), ' ');
  for (char& c : k) c = alphabet[ch(rng)];
  return k;
}

std::string random_value(std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> len(0, 100);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string v(len(rng), '\0');
  for (char& c : v) c = static_cast<char>(byte(rng));
  return v;
}

TEST_F(DurableStoreTest, RandomWorkloadOf50kKeysMatchesModelAfterCheckpointCrashAndReopen) {
  std::mt19937_64 rng(20240611);
  model m;
  std::vector<std::string> keys;
  {
    auto s = must_open(dir_, durable_options(durability::none, /*power_loss=*/true));
    ASSERT_TRUE(s);
    std::uniform_int_distribution<int> op(0, 9);
    for (int i = 0; i < 50'000; ++i) {
      const int o = op(rng);
      if (o < 6 || keys.empty()) {
        std::string k = random_key(rng);
        std::string v = random_value(rng);
        ASSERT_TRUE(s->put_string(k, v));
        keys.push_back(k);
        m[k] = std::move(v);
      } else {
        const std::string& k = keys[std::uniform_int_distribution<std::size_t>(0, keys.size() - 1)(rng)];
        if (o < 8) {
          std::string v = random_value(rng);
          ASSERT_TRUE(s->put_string(k, v));
          m[k] = std::move(v);
        } else {
          auto erased = s->erase(as_bytes(k));
          ASSERT_TRUE(erased);
          EXPECT_EQ(*erased, m.erase(k) == 1) << k;
        }
      }
      // A few checkpoints along the way, so the final tree mixes blocks of several commits.
      if (i % 12'500 == 12'499) {
        ASSERT_TRUE(s->checkpoint());
      }
    }
    ASSERT_TRUE(s->checkpoint());
    crash(std::move(s));
  }
  auto s = must_open(dir_, durable_options(durability::none, true));
  ASSERT_TRUE(s);
  expect_contents(*s, m);
  // Erased keys stay erased.
  std::size_t resurrected = 0;
  for (const std::string& k : keys) {
    if (m.count(k) == 0 && s->contains(as_bytes(k))) {
      ++resurrected;
    }
  }
  EXPECT_EQ(resurrected, 0U);
}

// ---- Modes and locking ----

TEST_F(DurableStoreTest, CreateNewWhereAStoreExistsIsInvalidArgument) {
  ASSERT_TRUE(must_open(dir_, durable_options(durability::none)));
  options o = durable_options(durability::none);
  o.mode = open_mode::create_new;
  auto s = store::open(dir_, o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), errc::invalid_argument) << s.error().to_string();
}

TEST_F(DurableStoreTest, OpenExistingWhereNoStoreIsNotFound) {
  options o = durable_options(durability::none);
  o.mode = open_mode::open_existing;
  auto s = store::open(dir_, o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), errc::not_found) << s.error().to_string();
  EXPECT_FALSE(std::filesystem::exists(test::data_file(dir_)));
}

TEST_F(DurableStoreTest, ReadOnlyWhereNoStoreIsNotFound) {
  options o = durable_options(durability::none);
  o.read_only = true;
  auto s = store::open(dir_, o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), errc::not_found) << s.error().to_string();
  EXPECT_FALSE(std::filesystem::exists(test::data_file(dir_)));
}

TEST_F(DurableStoreTest, SecondOpenWhileFirstHandleLivesIsBusyUntilItIsDestroyed) {
  auto first = must_open(dir_, durable_options(durability::sync));
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->put_string("k", "v"));

  auto second = store::open(dir_, durable_options(durability::sync));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), errc::busy) << second.error().to_string();

  options ro = durable_options(durability::none);
  ro.read_only = true;
  auto reader = store::open(dir_, ro);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code(), errc::busy) << reader.error().to_string();

  // close() keeps the lock: the handle stays readable until it is destroyed.
  ASSERT_TRUE(first->close());
  auto third = store::open(dir_, durable_options(durability::sync));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code(), errc::busy);

  first.reset();
  auto again = must_open(dir_, durable_options(durability::sync));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get_string("k"), "v");
}

TEST_F(DurableStoreTest, ReadOnlyOpensShareTheDirectory) {
  ASSERT_TRUE(must_open(dir_, durable_options(durability::sync)));
  options ro = durable_options(durability::none);
  ro.read_only = true;
  auto a = must_open(dir_, ro);
  auto b = must_open(dir_, ro);
  ASSERT_TRUE(a && b);
  // A writer must wait for the readers.
  auto w = store::open(dir_, durable_options(durability::sync));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), errc::busy);
}

TEST_F(DurableStoreTest, DramBackendWithAPathIsInvalidArgument) {
  options o;
  o.backend = backend::dram;
  auto s = store::open(dir_, o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), errc::invalid_argument) << s.error().to_string();
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

TEST_F(DurableStoreTest, ReadOnlyOpenReadsButRefusesWritesAndLeavesTheFileUnchanged) {
  {
    auto s = must_open(dir_, durable_options(durability::none));
    ASSERT_TRUE(s);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(s->put_string("k" + std::to_string(i), "v" + std::to_string(i)));
    ASSERT_TRUE(s->close());
  }
  const auto file = test::data_file(dir_);
  const std::uint64_t before = test::file_hash(file);
  const auto size_before = std::filesystem::file_size(file);
  {
    options ro = durable_options(durability::sync);
    ro.read_only = true;
    auto s = must_open(dir_, ro);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->len(), 20U);
    EXPECT_EQ(s->get_string("k7"), "v7");
    auto put = s->put_string("new", "x");
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code(), errc::not_supported);
    auto erase = s->erase(as_bytes("k7"));
    ASSERT_FALSE(erase);
    EXPECT_EQ(erase.error().code(), errc::not_supported);
    auto clear = s->clear();
    ASSERT_FALSE(clear);
    EXPECT_EQ(clear.error().code(), errc::not_supported);
    auto gi = s->get_or_insert(as_bytes("new"), as_bytes("x"));
    ASSERT_FALSE(gi);
    EXPECT_EQ(gi.error().code(), errc::not_supported);
    // Nothing changed in the handle either.
    EXPECT_EQ(s->len(), 20U);
    EXPECT_EQ(s->get_string("k7"), "v7");
    EXPECT_TRUE(s->checkpoint());
    EXPECT_TRUE(s->close());
  }
  EXPECT_EQ(std::filesystem::file_size(file), size_before);
  EXPECT_EQ(test::file_hash(file), before);
}

// A read-only open replays the log into private memory, which may need more room than the file holds:
// growing the file is not allowed (and fallocate on its O_RDONLY descriptor failed with EBADF, so the open
// failed with io_error). Here the file is cut back to its durable tree, which the log outgrew.
TEST_F(DurableStoreTest, AReadOnlyOpenReplaysALogThatOutgrowsTheFile) {
  model m;
  {
    options o = durable_options(durability::log);
    o.checkpoint_log_bytes = UINT64_MAX;
    o.checkpoint_interval = std::chrono::hours(1);
    auto s = must_open(dir_, o);
    ASSERT_TRUE(s);
    for (int i = 0; i < 3000; ++i) {
      const std::string k = "key/" + std::to_string(i);
      const std::string v(100, static_cast<char>('a' + i % 26));
      ASSERT_TRUE(s->put_string(k, v));
      m[k] = v;
    }
    crash(std::move(s));
  }
  const auto file = test::data_file(dir_);
  std::uint64_t frontier = 0;
  {
    auto f = mmap::store_file::open(dir_, true);
    ASSERT_TRUE(f.has_value()) << f.error().to_string();
    auto newest = (*f)->newest_slot();
    ASSERT_TRUE(newest.has_value());
    frontier = (*f)->slot(*newest)->frontier;
  }
  std::filesystem::resize_file(file, frontier);
  const std::uint64_t before = test::file_hash(file);
  {
    options ro = durable_options(durability::log);
    ro.read_only = true;
    auto s = must_open(dir_, ro);
    ASSERT_TRUE(s);
    expect_contents(*s, m);
  }
  EXPECT_EQ(std::filesystem::file_size(file), frontier) << "a read-only open grew the file";
  EXPECT_EQ(test::file_hash(file), before);
}

// ---- Permissions ----

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST_F(DurableStoreTest, NewStoreIsOwnerOnlyByDefault) {
  ASSERT_TRUE(must_open(dir_, durable_options(durability::none)));
  EXPECT_EQ(mode_of(dir_), 0700U);
  EXPECT_EQ(mode_of(test::data_file(dir_)), 0600U);
}

TEST_F(DurableStoreTest, FileAndDirectoryModesAreHonouredExactly) {
  options o = durable_options(durability::none);
  o.file_mode = 0640;
  o.directory_mode = 0750;
  // Whatever the umask, exactly these bits.
  const mode_t old_umask = ::umask(0077);
  auto s = store::open(dir_, o);
  ::umask(old_umask);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(mode_of(dir_), 0750U);
  EXPECT_EQ(mode_of(test::data_file(dir_)), 0640U);
}

// ---- Space reuse ----

TEST_F(DurableStoreTest, OverwritingAcrossReopensReusesFreedSpace) {
  constexpr int rounds = 20;
  constexpr int keys = 2000;
  const auto file = test::data_file(dir_);
  std::vector<std::uint64_t> sizes;
  for (int round = 0; round < rounds; ++round) {
    // Durability none with a checkpoint every 250 writes: commits free what they stop reaching during a
    // round, reopens rebuild the free lists between rounds -- without two syncs per write.
    auto s = must_open(dir_, durable_options(durability::none));
    ASSERT_TRUE(s);
    if (round > 0) {
      ASSERT_EQ(s->len(), static_cast<std::size_t>(keys));
    }
    for (int i = 0; i < keys; ++i) {
      // Values change size from round to round, so freed blocks are not always an exact fit.
      const std::string v(static_cast<std::size_t>(40 + (i + round) % 60), static_cast<char>('a' + round));
      ASSERT_TRUE(s->put_string("key/" + std::to_string(i), v));
      if (i % 250 == 249) {
        ASSERT_TRUE(s->checkpoint());
      }
    }
    ASSERT_TRUE(s->close());
    s.reset();
    sizes.push_back(std::filesystem::file_size(file));
  }
  RecordProperty("size_after_round_2", std::to_string(sizes[1]));
  RecordProperty("size_after_last_round", std::to_string(sizes.back()));
  // Each round rewrites every key, so a store that did not reuse space would grow by a round's worth each
  // time; rebuilt free lists keep it near the size one round needs.
  EXPECT_LE(sizes.back(), 2 * sizes[1]) << "sizes: first " << sizes[0] << ", second " << sizes[1] << ", last "
                                        << sizes.back();
  auto s = must_open(dir_, durable_options(durability::sync));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->len(), static_cast<std::size_t>(keys));
  EXPECT_EQ(s->get_string("key/0"),
            std::string(static_cast<std::size_t>(40 + (rounds - 1) % 60), static_cast<char>('a' + rounds - 1)));
}

}  // namespace
}  // namespace tessel
