// The watch history's byte ring (kv/commit_ring.hpp): it keeps the newest commits within its limits, their
// seqs consecutive and their changes exact, through growth, wrapping and commits too big to keep.
#include "kv/commit_ring.hpp"

#include <cstdint>
#include <deque>
#include <random>
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
  if (ring.oldest_seq() != want.front().seq) {
    return ::testing::AssertionFailure() << "oldest seq " << ring.oldest_seq() << ", not " << want.front().seq;
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
  commit_ring ring(max_commits, max_bytes);
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
  EXPECT_EQ(ring.oldest_seq(), 9901u);
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
  ring.clear();
  EXPECT_TRUE(ring.empty());
  append(ring, random_commit(rng, 7, 10));  // an emptied ring starts again at any seq
  EXPECT_EQ(ring.oldest_seq(), 7u);
}

}  // namespace
}  // namespace tessel::detail
