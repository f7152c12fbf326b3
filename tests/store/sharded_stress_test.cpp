// Stress of a sharded store in worker mode with 8 threads on this 2-core host: 4 writers each bump their
// own counters (per-key monotonic), 2 readers read published versions from any thread, 2 scanners take cuts
// and scan them whole. Checked against the model: a reader never sees a counter go back; a cut's scan is in
// strictly ascending key order (so each key at most once) and its counters are at most what the writers had
// acknowledged after it; at the end every counter has its final value. Label concurrency (TSan clean).
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/sharded_store.hpp"

namespace tessel {
namespace {

constexpr int writers = 4;
constexpr int readers = 2;
constexpr int scanners = 2;
constexpr int counters_per_writer = 16;
constexpr std::uint64_t bumps = 150;

std::string counter_key(int writer, int counter) {
  return "w" + std::to_string(writer) + "/c" + std::to_string(counter);
}

std::uint64_t as_number(const std::string& s) { return s.empty() ? 0 : std::stoull(s); }

TEST(ShardedStressTest, EightThreadsMixReadsWritesScansAndCuts) {
  shard_options so{4, routing::whole_key, 1};
  so.mode = shard_mode::workers;
  auto opened = sharded_store::open(options{}, so);
  ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
  sharded_store& s = **opened;
  // acknowledged[w][c]: the last value writer w saw acknowledged for its counter c.
  std::vector<std::vector<std::atomic<std::uint64_t>>> acknowledged(writers);
  for (auto& row : acknowledged) row = std::vector<std::atomic<std::uint64_t>>(counters_per_writer);
  std::atomic<int> writers_done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (std::uint64_t n = 1; n <= bumps; ++n) {
        for (int c = 0; c < counters_per_writer; ++c) {
          ASSERT_TRUE(s.put(as_bytes(counter_key(w, c)), as_bytes(std::to_string(n))));
          acknowledged[static_cast<std::size_t>(w)][static_cast<std::size_t>(c)].store(n, std::memory_order_release);
        }
      }
      writers_done.fetch_add(1);
    });
  }
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      std::vector<std::uint64_t> last(writers * counters_per_writer, 0);
      while (writers_done.load() < writers) {
        for (int w = 0; w < writers; ++w) {
          for (int c = 0; c < counters_per_writer; ++c) {
            const std::size_t i = static_cast<std::size_t>(w * counters_per_writer + c);
            // Acknowledged before the read starts: the read must see at least that.
            const std::uint64_t floor =
                acknowledged[static_cast<std::size_t>(w)][static_cast<std::size_t>(c)].load(std::memory_order_acquire);
            const std::uint64_t v = as_number(s.get_string(as_bytes(counter_key(w, c))).value_or(""));
            ASSERT_GE(v, floor) << "reader " << r << " missed an acknowledged write of " << counter_key(w, c);
            ASSERT_GE(v, last[i]) << "reader " << r << " saw " << counter_key(w, c) << " go back";
            last[i] = v;
          }
        }
      }
    });
  }
  for (int k = 0; k < scanners; ++k) {
    threads.emplace_back([&, k] {
      while (writers_done.load() < writers) {
        auto cut = s.snapshot();
        ASSERT_TRUE(cut.has_value()) << cut.error().to_string();
        merged_cursor c = cut->new_cursor();
        std::string previous;
        std::size_t seen = 0;
        for (c.seek_to_first(); c.valid(); c.next(), ++seen) {
          const std::string key = to_string(c.key());
          ASSERT_TRUE(seen == 0 || previous < key) << "scanner " << k << ": " << key << " after " << previous;
          previous = key;
        }
        ASSERT_EQ(seen, cut->len()) << "scanner " << k;
        // Nothing in the cut is ahead of the writers: at most the write each had in flight.
        for (int w = 0; w < writers; ++w) {
          for (int i = 0; i < counters_per_writer; ++i) {
            auto v = cut->get(as_bytes(counter_key(w, i)));
            const std::uint64_t in_cut = v ? as_number(to_string(*v)) : 0;
            const std::uint64_t acked =
                acknowledged[static_cast<std::size_t>(w)][static_cast<std::size_t>(i)].load(std::memory_order_acquire);
            ASSERT_LE(in_cut, acked + 1) << "scanner " << k << ": " << counter_key(w, i);
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < writers; ++w) {
    for (int c = 0; c < counters_per_writer; ++c) {
      EXPECT_EQ(s.get_string(as_bytes(counter_key(w, c))).value_or("?"), std::to_string(bumps));
    }
  }
  EXPECT_EQ(s.len(), static_cast<std::size_t>(writers * counters_per_writer));
}

}  // namespace
}  // namespace tessel
