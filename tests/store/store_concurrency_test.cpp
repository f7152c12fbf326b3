// The store's contract: const calls may run concurrently with each other while nobody writes. Several
// threads read (get, contains, cursors, prefix and range scans) the same store at once and must all see the
// same, correct data. Run under ThreadSanitizer (label concurrency): a const path that writes shared state
// is a race.
#include <atomic>
#include <cstddef>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/store.hpp"

namespace tessel {
namespace {

std::string key_of(std::size_t i) { return "/t/" + std::to_string(i % 97) + "/k" + std::to_string(i); }

TEST(StoreConcurrencyTest, ConstCallsFromManyThreadsSeeTheSameData) {
  auto opened = store::open(options{});
  ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
  store& s = **opened;
  std::map<std::string, std::string> model;
  for (std::size_t i = 0; i < 5000; ++i) {
    const std::string k = key_of(i);
    const std::string v = "v" + std::to_string(i * 31);
    ASSERT_TRUE(s.put(as_bytes(k), as_bytes(v)).has_value());
    model[k] = v;
  }

  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (std::size_t i = static_cast<std::size_t>(t); i < 5000; i += 7) {
        const std::string k = key_of(i);
        const auto v = s.get(as_bytes(k));
        if (!v || as_string_view(*v) != model.at(k) || !s.contains(as_bytes(k))) failures.fetch_add(1);
        if (s.contains(as_bytes(k + "-absent"))) failures.fetch_add(1);
      }
      // A full ordered walk.
      cursor c = s.new_cursor();
      auto expected = model.begin();
      for (c.seek_to_first(); c.valid(); c.next(), ++expected) {
        if (expected == model.end() || as_string_view(c.key()) != expected->first) {
          failures.fetch_add(1);
          break;
        }
      }
      // Prefix and range scans.
      for (int p = t; p < 97; p += 4) {
        const std::string prefix = "/t/" + std::to_string(p) + "/";
        std::size_t seen = 0;
        for (const entry& e : s.prefix_scan(as_bytes(prefix))) {
          if (!starts_with(e.key, as_bytes(prefix)) || as_string_view(e.value) != model.at(to_string(e.key))) {
            failures.fetch_add(1);
          }
          ++seen;
        }
        std::size_t expected_count = 0;
        for (auto it = model.lower_bound(prefix); it != model.end() && it->first.starts_with(prefix); ++it) {
          ++expected_count;
        }
        if (seen != expected_count) failures.fetch_add(1);
      }
      std::size_t in_range = 0;
      for (const entry& e : s.range_scan(as_bytes(std::string("/t/1")), as_bytes(std::string("/t/2")))) {
        (void)e;
        ++in_range;
      }
      const auto lo = model.lower_bound("/t/1");
      const auto hi = model.lower_bound("/t/2");
      if (in_range != static_cast<std::size_t>(std::distance(lo, hi))) failures.fetch_add(1);
    });
  }
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(s.len(), model.size());
}

}  // namespace
}  // namespace tessel
