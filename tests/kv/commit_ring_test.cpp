// The watch history's byte ring (kv/commit_ring.hpp): it keeps the newest commits within its limits, their
// seqs consecutive and their changes exact, through growth, wrapping and commits too big to keep; and its
// records saved as bytes come back whole into another ring, while bytes that do not parse are refused.
#include "kv/commit_ring.hpp"

#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tessel::detail {
namespace {

struct owned_change {
  kv_event_type type;
  std::string key;
  std::uint64_t version;
  std::string value;
};
struct owned_commit {
  std::uint64_t seq;
  std::vector<owned_change> changes;
};

/// The bytes a commit takes in the ring, by its documented layout.
std::size_t ring_bytes(const owned_commit& c) {
  std::size_t n = 16;
  for (const owned_change& ch : c.changes) n += 24 + ch.key.size() + ch.value.size();
  return (n + 7) / 8 * 8;
}

void append(commit_ring& ring, const owned_commit& c) {
  std::vector<change> views;
  for (const owned_change& ch : c.changes) views.push_back({ch.type, ch.key, ch.version, ch.value});
  ring.append(c.seq, views);
}

/// Every commit the ring visits after `after`, copied out.
std::vector<owned_commit> visited(const commit_ring& ring, std::uint64_t after) {
  std::vector<owned_commit> out;
  ring.for_each_after(after, [&](std::uint64_t seq, std::span<const change> changes) {
    owned_commit c{seq, {}};
    for (const change& ch : changes)
      c.changes.push_back({ch.type, std::string(ch.key), ch.version, std::string(ch.value)});
    out.push_back(std::move(c));
  });
  return out;
}

::testing::AssertionResult holds(const commit_ring& ring, const std::deque<owned_commit>& want) {
  if (ring.commits() != want.size()) {
    return ::testing::AssertionFailure() << "holds " << ring.commits() << " commits, not " << want.size();
  }
  if (want.empty()) return ::testing::AssertionSuccess();
  if (ring.complete_after() != want.front().seq - 1) {
    return ::testing::AssertionFailure() << "complete after seq " << ring.complete_after() << ", not "
                                         << want.front().seq - 1;
  }
  const std::vector<owned_commit> got = visited(ring, want.front().seq - 1);
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "visits " << got.size() << " commits, not " << want.size();
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    const owned_commit& g = got[i];
    const owned_commit& w = want[i];
    if (g.seq != w.seq || g.changes.size() != w.changes.size()) {
      return ::testing::AssertionFailure() << "commit " << i << " is seq " << g.seq << " with " << g.changes.size()
                                           << " changes, not seq " << w.seq << " with " << w.changes.size();
    }
    for (std::size_t j = 0; j < w.changes.size(); ++j) {
      const owned_change& a = g.changes[j];
      const owned_change& b = w.changes[j];
      if (a.type != b.type || a.key != b.key || a.version != b.version || a.value != b.value) {
        return ::testing::AssertionFailure() << "seq " << w.seq << " change " << j << " differs: key " << a.key;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

owned_commit random_commit(std::mt19937_64& rng, std::uint64_t seq, std::size_t max_value) {
  owned_commit c{seq, {}};
  const std::size_t n = rng() % 5;  // commits without changes too (a transaction of checks)
  for (std::size_t i = 0; i < n; ++i) {
    const auto type = static_cast<kv_event_type>(rng() % 3);
    std::string key = "/k/" + std::to_string(rng() % 1000);
    std::string value =
        type == kv_event_type::deleted ? "" : std::string(rng() % (max_value + 1), 'a' + static_cast<char>(seq % 26));
    c.changes.push_back({type, std::move(key), rng(), std::move(value)});
  }
  return c;
}

/// Appends `count` random commits, checking after each that the ring holds exactly the newest commits
/// that fit both limits.
void run_against_model(std::size_t max_commits, std::size_t max_bytes, std::size_t max_value, std::uint64_t seed,
                       std::size_t count) {
  commit_ring ring(max_commits, max_bytes, 99);
  std::deque<owned_commit> model;
  std::size_t model_bytes = 0;
  std::mt19937_64 rng(seed);
  for (std::uint64_t seq = 100; seq < 100 + count; ++seq) {
    owned_commit c = random_commit(rng, seq, max_value);
    append(ring, c);
    const std::size_t bytes = ring_bytes(c);
    if (bytes > max_bytes) {
      model.clear();
      model_bytes = 0;
      ASSERT_EQ(ring.complete_after(), seq) << "a commit it cannot keep is where resuming starts";
    } else {
      model.push_back(std::move(c));
      model_bytes += bytes;
      while (model.size() > max_commits) {
        model_bytes -= ring_bytes(model.front());
        model.pop_front();
      }
    }
    ASSERT_LE(ring.capacity(), max_bytes);
    // The ring may drop more than the byte limit alone requires -- a record does not wrap around the end,
    // so a few records' worth of room can stand unused -- but no more than that.
    const bool dropped_for_room = model.size() > ring.commits();
    while (model.size() > ring.commits()) {
      model_bytes -= ring_bytes(model.front());
      model.pop_front();
    }
    ASSERT_TRUE(holds(ring, model)) << "after seq " << seq;
    const std::size_t largest_record = 16 + 4 * (24 + 6 + max_value) + 8;
    if (dropped_for_room) {
      ASSERT_GE(model_bytes + 4 * largest_record, max_bytes) << "after seq " << seq;
    }
  }
}

TEST(CommitRingTest, KeepsTheNewestCommitsByCount) { run_against_model(10, 1 << 20, 40, 1, 2000); }

TEST(CommitRingTest, KeepsTheNewestCommitsByBytesThroughWrapping) { run_against_model(1 << 20, 4096, 200, 2, 5000); }

TEST(CommitRingTest, CommitsOverTheByteLimitEmptyIt) { run_against_model(1 << 20, 2048, 1500, 3, 3000); }

TEST(CommitRingTest, GrowsOnlyAsFarAsItsCommitsNeed) {
  commit_ring ring(100, std::size_t{64} << 20);
  std::mt19937_64 rng(4);
  for (std::uint64_t seq = 1; seq <= 10000; ++seq) append(ring, random_commit(rng, seq, 40));
  EXPECT_EQ(ring.commits(), 100u);
  EXPECT_EQ(ring.complete_after(), 9900u);
  EXPECT_LE(ring.capacity(), std::size_t{64} << 10);  // 100 commits of at most ~400 bytes: never past the first size
}

TEST(CommitRingTest, VisitsOnlyCommitsAfterTheSeq) {
  commit_ring ring(1000, 1 << 20);
  std::mt19937_64 rng(5);
  for (std::uint64_t seq = 1; seq <= 50; ++seq) append(ring, random_commit(rng, seq, 10));
  std::vector<std::uint64_t> seqs;
  ring.for_each_after(45, [&](std::uint64_t seq, std::span<const change>) { seqs.push_back(seq); });
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{46, 47, 48, 49, 50}));
  seqs.clear();
  ring.for_each_after(50, [&](std::uint64_t seq, std::span<const change>) { seqs.push_back(seq); });
  EXPECT_TRUE(seqs.empty());
  ring.clear(60);
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.complete_after(), 60u);
  append(ring, random_commit(rng, 70, 10));  // seqs need not follow each other: a restored history's do not
  EXPECT_EQ(ring.complete_after(), 60u);
  EXPECT_EQ(visited(ring, 60).size(), 1u);
}

/// `count` random commits from seq `first` on, appended to `ring` and returned.
std::deque<owned_commit> fill(commit_ring& ring, std::uint64_t first, std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::deque<owned_commit> out;
  for (std::uint64_t seq = first; seq < first + count; ++seq) {
    out.push_back(random_commit(rng, seq, 60));
    append(ring, out.back());
  }
  return out;
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return {static_cast<const std::byte*>(static_cast<const void*>(s.data())), s.size()};
}

TEST(CommitRingTest, SavedRecordsComeBackWholeThroughWrapping) {
  commit_ring ring(1 << 20, 8192, 0);
  std::deque<owned_commit> model = fill(ring, 1, 400, 6);  // wraps many times within 8 KiB
  while (model.size() > ring.commits()) model.pop_front();
  std::string saved;
  EXPECT_EQ(ring.save(saved, std::size_t{1} << 20), ring.complete_after());
  commit_ring copy(1 << 20, 1 << 20, ring.complete_after());
  ASSERT_TRUE(copy.restore(bytes_of(saved), 400));
  EXPECT_TRUE(holds(copy, model));
  // Restored, it goes on with later seqs, past a gap (the next opening's first seq).
  std::mt19937_64 rng(7);
  owned_commit later = random_commit(rng, std::uint64_t{1} << 40 | 1, 10);
  append(copy, later);
  const auto after = visited(copy, 399);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after.back().seq, later.seq);
}

TEST(CommitRingTest, SavingWithinABudgetKeepsTheNewestAndSaysWhereTheyStart) {
  commit_ring ring(1000, 1 << 20, 0);
  const std::deque<owned_commit> model = fill(ring, 1, 100, 8);
  std::size_t newest_bytes = 0;
  std::size_t kept = 0;
  while (kept < model.size() && newest_bytes + ring_bytes(model[model.size() - 1 - kept]) <= 2000) {
    newest_bytes += ring_bytes(model[model.size() - 1 - kept]);
    ++kept;
  }
  std::string saved = "prefix";  // appends
  const std::uint64_t complete_after = ring.save(saved, 2000);
  EXPECT_EQ(saved.size(), 6 + newest_bytes);
  EXPECT_EQ(complete_after, 100 - kept);
  commit_ring copy(1000, 1 << 20, complete_after);
  ASSERT_TRUE(copy.restore(bytes_of(saved).subspan(6), 100));
  EXPECT_TRUE(holds(copy, std::deque<owned_commit>(model.end() - static_cast<std::ptrdiff_t>(kept), model.end())));
}

TEST(CommitRingTest, RestoringIntoSmallerLimitsKeepsTheNewest) {
  commit_ring ring(1000, 1 << 20, 0);
  std::deque<owned_commit> model = fill(ring, 1, 300, 9);
  std::string saved;
  (void)ring.save(saved, std::size_t{1} << 20);
  commit_ring small(50, 1 << 20, 0);
  ASSERT_TRUE(small.restore(bytes_of(saved), 300));
  while (model.size() > 50) model.pop_front();
  EXPECT_TRUE(holds(small, model));
}

TEST(CommitRingTest, RecordsThatDoNotParseAreRefused) {
  commit_ring ring(1000, 1 << 20, 0);
  (void)fill(ring, 1, 20, 10);
  std::string saved;
  (void)ring.save(saved, std::size_t{1} << 20);
  const auto refused = [](const std::string& bytes, std::uint64_t up_to, std::uint64_t complete_after) {
    commit_ring copy(1000, 1 << 20, complete_after);
    return !copy.restore(bytes_of(bytes), up_to);
  };
  EXPECT_FALSE(refused(saved, 20, 0));
  EXPECT_TRUE(refused(saved.substr(0, saved.size() - 8), 20, 0)) << "cut short";
  EXPECT_TRUE(refused(saved.substr(0, 12), 20, 0)) << "a header cut short";
  EXPECT_TRUE(refused(saved, 19, 0)) << "a seq after the last one saved";
  EXPECT_TRUE(refused(saved, 20, 1)) << "a seq not after complete_after";
  std::string swapped = saved;  // the first record's seq made larger than the second's
  const std::uint64_t big = 1000;
  std::memcpy(swapped.data(), &big, sizeof big);
  EXPECT_TRUE(refused(swapped, 2000, 0)) << "seqs out of order";
  std::string too_long = saved;  // the first record's size past the end
  const std::uint32_t huge = 1U << 30;
  std::memcpy(too_long.data() + 12, &huge, sizeof huge);
  EXPECT_TRUE(refused(too_long, 20, 0));
  // A change's type byte past deleted, in the first record with a change.
  std::string bad_type = saved;
  std::size_t offset = 0;
  while (true) {
    std::uint32_t changes = 0;
    std::uint32_t bytes = 0;
    std::memcpy(&changes, bad_type.data() + offset + 8, 4);
    std::memcpy(&bytes, bad_type.data() + offset + 12, 4);
    if (changes != 0) break;
    offset += bytes;
  }
  bad_type[offset + 16 + 16] = static_cast<char>(7);
  EXPECT_TRUE(refused(bad_type, 20, 0));
  EXPECT_TRUE(refused(std::string(24, '\0'), 20, 0)) << "a record of zero bytes";
}

// The saved records come from a file: whatever their bytes, restore reads only inside them (ASan checks),
// and what it takes back is what parsed -- commits in seq order, within `up_to`, each change inside the
// bytes it came from.
TEST(CommitRingTest, RestoringDamagedRecordsStaysInsideThem) {
  commit_ring ring(1000, 1 << 20, 0);
  (void)fill(ring, 1, 60, 11);
  std::string saved;
  (void)ring.save(saved, std::size_t{1} << 20);
  std::mt19937_64 rng(12);
  for (int round = 0; round < 3000; ++round) {
    // An exact-size copy, so a read past the end is a heap overflow ASan reports.
    std::string damaged = saved.substr(0, rng() % 4 == 0 ? rng() % saved.size() : saved.size());
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips && !damaged.empty(); ++f) {
      damaged[rng() % damaged.size()] = static_cast<char>(rng());
    }
    const auto copy = std::make_unique<char[]>(damaged.size());
    std::memcpy(copy.get(), damaged.data(), damaged.size());
    const std::span<const std::byte> bytes(static_cast<const std::byte*>(static_cast<const void*>(copy.get())),
                                           damaged.size());
    commit_ring restored(1000, 1 << 20, 0);
    (void)restored.restore(bytes, 60);
    std::uint64_t last = 0;
    for (const owned_commit& c : visited(restored, 0)) {
      ASSERT_GT(c.seq, last);
      ASSERT_LE(c.seq, 60u);
      last = c.seq;
      for (const owned_change& ch : c.changes) {
        ASSERT_LE(static_cast<int>(ch.type), static_cast<int>(kv_event_type::deleted));
        ASSERT_LE(ch.key.size() + ch.value.size(), damaged.size());
      }
    }
  }
}

}  // namespace
}  // namespace tessel::detail
