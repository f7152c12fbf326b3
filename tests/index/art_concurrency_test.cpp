// Frozen roots are immutable: reader threads walk and probe them while the writer changes the live tree.
// Run under ThreadSanitizer (label concurrency): a write to any block a frozen root reaches is a race.
#include <atomic>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "index/art.hpp"
#include "mmap/mapped_region.hpp"

namespace tessel::index {
namespace {

std::string random_key(std::mt19937_64& rng) {
  // Short keys over a small alphabet: dense nodes, shared prefixes, keys that are prefixes of others.
  std::string k = "/s/";
  const std::size_t n = 1 + rng() % 6;
  for (std::size_t i = 0; i < n; ++i) k.push_back(static_cast<char>('a' + rng() % 20));
  return k;
}

// Walks the whole frozen root and probes sampled keys; returns false on the first disagreement.
bool frozen_matches(const art<mmap::mapped_region>& tree, const frozen_root& root,
                    const std::map<std::string, std::string>& model, std::uint64_t seed) {
  auto c = tree.cursor(root);
  auto expected = model.begin();
  for (c.seek_to_first(); c.valid(); c.next(), ++expected) {
    if (expected == model.end() || as_string_view(c.key()) != expected->first ||
        as_string_view(c.value()) != expected->second) {
      return false;
    }
  }
  if (expected != model.end()) return false;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 200; ++i) {
    const std::string k = random_key(rng);
    const auto found = tree.find(root, as_bytes(k));
    const auto it = model.find(k);
    if (found.has_value() != (it != model.end())) return false;
    if (found && as_string_view(*found) != it->second) return false;
  }
  return true;
}

TEST(ArtConcurrencyTest, FrozenRootsStayReadableWhileTheWriterWorks) {
  auto region = mmap::mapped_region::create_anonymous(1ULL << 30, false);
  ASSERT_TRUE(region.has_value()) << region.error().to_string();
  art<mmap::mapped_region> tree(**region);
  std::mt19937_64 rng(2024);
  std::map<std::string, std::string> model;
  for (int i = 0; i < 3000; ++i) {
    const std::string k = random_key(rng);
    ASSERT_TRUE(tree.upsert(as_bytes(k), as_bytes(k + "=0")).has_value());
    model[k] = k + "=0";
  }

  constexpr int rounds = 6;
  for (int round = 0; round < rounds; ++round) {
    const frozen_root root = tree.freeze();
    const std::map<std::string, std::string> frozen_model = model;
    std::atomic<bool> writer_done{false};
    std::atomic<int> mismatches{0};
    std::atomic<int> passes{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
      readers.emplace_back([&, r] {
        // At least two full passes, and keep reading until the writer is done.
        for (int pass = 0; pass < 2 || !writer_done.load(std::memory_order_acquire); ++pass) {
          if (!frozen_matches(tree, root, frozen_model, static_cast<std::uint64_t>(round * 10 + r + pass))) {
            mismatches.fetch_add(1);
          }
          passes.fetch_add(1);
        }
      });
    }
    // No ASSERT while the readers run: returning early would destroy joinable threads.
    bool write_failed = false;
    for (int i = 0; i < 4000 && !write_failed; ++i) {
      const std::string k = random_key(rng);
      if (rng() % 3 == 0) {
        write_failed = !tree.erase(as_bytes(k)).has_value();
        model.erase(k);
      } else {
        const std::string v = k + "=" + std::to_string(round) + "." + std::to_string(i);
        write_failed = !tree.upsert(as_bytes(k), as_bytes(v)).has_value();
        model[k] = v;
      }
    }
    writer_done.store(true, std::memory_order_release);
    for (std::thread& t : readers) t.join();
    ASSERT_FALSE(write_failed) << "a write failed in round " << round;
    EXPECT_EQ(mismatches.load(), 0) << "a frozen root changed under its readers in round " << round;
    EXPECT_GE(passes.load(), 4);
    ASSERT_TRUE(tree.verify().has_value()) << tree.verify().error().to_string();
    ASSERT_TRUE(tree.verify(root).has_value()) << tree.verify(root).error().to_string();
    // The version is released: its blocks go back to the region.
    tree.reclaim({});
    EXPECT_EQ(tree.retired_count(), 0U);
  }
  EXPECT_EQ(tree.size(), model.size());
}

}  // namespace
}  // namespace tessel::index
