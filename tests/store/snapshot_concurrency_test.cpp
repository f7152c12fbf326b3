// Snapshots read from other threads while the writer works (label concurrency, run under TSan): the writer
// applies random operations and now and then publishes a snapshot with a copy of its model; reader threads
// check every read of the newest published snapshot -- point reads, a prefix scan, a full count -- against
// that copy, and release snapshots from their own threads. Over a dram store and a durable (mmap) store.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/snapshot.hpp"
#include "tessel/store.hpp"

#include "tests/store/durable_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace tessel {
namespace {

using model = std::map<std::string, std::string>;

/// A snapshot and what it must hold.
struct published {
  snapshot snap;
  std::shared_ptr<const model> expected;
};

class publication {
 public:
  void publish(published p) {
    std::lock_guard lock(mutex_);
    current_ = std::move(p);
  }
  [[nodiscard]] published current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

 private:
  mutable std::mutex mutex_;
  published current_;
};

/// Checks `p` with a few random point reads, a prefix scan and a count; returns the mismatches.
std::size_t check_once(const published& p, std::mt19937_64& rng) {
  std::size_t wrong = 0;
  if (p.snap.len() != p.expected->size()) ++wrong;
  for (int i = 0; i < 20; ++i) {
    const std::string k = "key/" + std::to_string(rng() % 4000);
    const auto it = p.expected->find(k);
    const auto got = p.snap.get_string(k);
    if (it == p.expected->end() ? got.has_value() : (!got || *got != it->second)) ++wrong;
  }
  const std::string prefix = "key/" + std::to_string(rng() % 10);
  std::size_t scanned = 0;
  auto expected = p.expected->lower_bound(prefix);
  for (const entry& e : p.snap.prefix_scan(as_bytes(prefix))) {
    if (expected == p.expected->end() || to_string(e.key) != expected->first ||
        to_string(e.value) != expected->second) {
      ++wrong;
      break;
    }
    ++expected;
    ++scanned;
  }
  if (expected != p.expected->end() && expected->first.compare(0, prefix.size(), prefix) == 0) ++wrong;
  (void)scanned;
  return wrong;
}

void run_readers_against_writer(store& s, int operations) {
  publication pub;
  std::atomic<bool> done{false};
  std::atomic<std::size_t> checks{0};
  std::atomic<std::size_t> wrong{0};
  auto first = s.snapshot();
  ASSERT_TRUE(first.has_value());
  pub.publish({*first, std::make_shared<const model>()});

  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(100 + t));
      while (!done.load(std::memory_order_acquire)) {
        const published p = pub.current();  // the handle this thread drops may be the last one
        wrong += check_once(p, rng);
        ++checks;
      }
    });
  }

  std::mt19937_64 rng(5);
  model m;
  for (int i = 0; i < operations; ++i) {
    const std::string k = "key/" + std::to_string(rng() % 4000);
    if (rng() % 5 == 0) {
      ASSERT_TRUE(s.erase(as_bytes(k)));
      m.erase(k);
    } else {
      const std::string v = std::to_string(i) + std::string(rng() % 40, 'v');
      ASSERT_TRUE(s.put_string(k, v));
      m[k] = v;
    }
    if (i % 1000 == 999) {
      auto snap = s.snapshot();
      ASSERT_TRUE(snap.has_value());
      pub.publish({std::move(*snap), std::make_shared<const model>(m)});
    }
  }
  done.store(true, std::memory_order_release);
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0U) << "reads of published snapshots differed from their models";
  EXPECT_GT(checks.load(), 10U);
}

// Readers take the latest published version themselves (store::published()) while the writer publishes.
TEST(SnapshotConcurrencyTest, ReadersOfPublishedVersionsSeeExactlyThem) {
  auto opened = store::open(options{});
  ASSERT_TRUE(opened.has_value());
  store& s = **opened;
  std::mutex models_mutex;
  std::map<std::uint64_t, std::shared_ptr<const model>> models;  // by the version's epoch
  std::atomic<bool> done{false};
  std::atomic<std::size_t> verified{0};
  std::atomic<std::size_t> wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(200 + t));
      while (!done.load(std::memory_order_acquire)) {
        const snapshot v = s.published();
        if (!v.valid()) continue;
        std::shared_ptr<const model> expected;
        {
          std::lock_guard lock(models_mutex);
          if (const auto it = models.find(v.epoch()); it != models.end()) expected = it->second;
        }
        if (!expected) continue;  // published a moment before the writer recorded its model
        wrong += check_once({v, expected}, rng);
        ++verified;
      }
    });
  }
  std::mt19937_64 rng(9);
  model m;
  for (int i = 0; i < 20'000; ++i) {
    const std::string k = "key/" + std::to_string(rng() % 4000);
    if (rng() % 5 == 0) {
      ASSERT_TRUE(s.erase(as_bytes(k)));
      m.erase(k);
    } else {
      ASSERT_TRUE(s.put_string(k, std::to_string(i)));
      m[k] = std::to_string(i);
    }
    if (i % 500 == 499) {
      ASSERT_TRUE(s.publish());
      std::lock_guard lock(models_mutex);
      models[s.published().epoch()] = std::make_shared<const model>(m);
    }
  }
  done.store(true, std::memory_order_release);
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0U);
  EXPECT_GT(verified.load(), 10U);
}

TEST(SnapshotConcurrencyTest, ReadersOfDramSnapshotsSeeExactlyTheirVersions) {
  auto s = store::open(options{});
  ASSERT_TRUE(s.has_value());
  run_readers_against_writer(**s, 30'000);
}

TEST(SnapshotConcurrencyTest, ReadersOfDurableSnapshotsSeeExactlyTheirVersionsAcrossCommits) {
  test::temp_dir tmp;
  options o = test::durable_options(durability::none);
  o.checkpoint_log_bytes = 64 << 10;                 // commits (and their reclaims) happen while readers read
  o.checkpoints_on = checkpoint_thread::background;  // on the checkpointer, in slices, beside the writer
  auto s = test::must_open(tmp.sub("store"), o);
  ASSERT_TRUE(s);
  run_readers_against_writer(*s, 6000);
}

}  // namespace
}  // namespace tessel
