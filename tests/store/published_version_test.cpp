// published_version and reader_epochs: lock-free loads of the published version, and replaced versions
// freed exactly when no pinned reader can still hold them. Label concurrency (tsan clean): readers load
// while a writer replaces.
#include "store/published_version.hpp"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/reader_epochs.hpp"

namespace tessel::detail {
namespace {

std::shared_ptr<snapshot_state> version(std::uint64_t seq) {
  auto s = std::make_shared<snapshot_state>();
  s->at_seq = seq;
  return s;
}

TEST(PublishedVersionTest, LoadsWhatWasLastPublished) {
  published_version p;
  EXPECT_EQ(p.load(), nullptr);
  auto a = version(1);
  p.replace(a);
  EXPECT_EQ(p.load(), a);
  p.replace(nullptr);
  EXPECT_EQ(p.load(), nullptr);
}

TEST(PublishedVersionTest, AReplacedVersionLivesWhileAReaderIsPinned) {
  published_version p;
  std::weak_ptr<snapshot_state> first;
  {
    auto a = version(1);
    first = a;
    p.replace(std::move(a));
  }
  std::atomic<bool> pinned{false};
  std::atomic<bool> release{false};
  std::thread reader([&] {
    const reader_epochs::pin pin;  // as load() does, held open
    pinned = true;
    while (!release) std::this_thread::yield();
  });
  while (!pinned) std::this_thread::yield();
  p.replace(version(2));
  p.replace(version(3));
  EXPECT_FALSE(first.expired()) << "a reader pinned before the replace may still hold it";
  release = true;
  reader.join();
  p.replace(version(4));
  EXPECT_TRUE(first.expired()) << "no reader can reach it any more";
}

TEST(PublishedVersionTest, ReadersNeverSeeAFreedOrOlderVersion) {
  published_version p;
  p.replace(version(1));
  constexpr std::uint64_t publishes = 20000;
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  std::atomic<std::uint64_t> loads{0};
  constexpr int reader_count = 4;
  std::atomic<int> reading{0};  // readers past their first load
  for (int t = 0; t < reader_count; ++t) {
    readers.emplace_back([&] {
      std::uint64_t last = 0;
      for (bool first = true; first || !done.load(std::memory_order_acquire); first = false) {
        const auto v = p.load();
        loads.fetch_add(1, std::memory_order_relaxed);
        if (first) reading.fetch_add(1);  // before the checks: a failing one must not leave the writer waiting
        ASSERT_NE(v, nullptr);
        ASSERT_GE(v->at_seq, last) << "a version older than one already seen";
        last = v->at_seq;
      }
    });
  }
  // Publishing starts once every reader runs: on a busy machine the publishes could otherwise all be over
  // before a reader was scheduled, and the test would check nothing.
  while (reading.load() < reader_count) std::this_thread::yield();
  std::vector<std::weak_ptr<snapshot_state>> old;
  for (std::uint64_t i = 2; i <= publishes; ++i) {
    auto v = version(i);
    if (i % 1000 == 0) old.push_back(v);
    p.replace(std::move(v));
  }
  done = true;
  for (std::thread& t : readers) t.join();
  p.replace(nullptr);
  p.replace(nullptr);  // the last retired versions go once nobody is pinned
  for (const auto& w : old) EXPECT_TRUE(w.expired());
  EXPECT_GT(loads.load(), 0U);
}

}  // namespace
}  // namespace tessel::detail
