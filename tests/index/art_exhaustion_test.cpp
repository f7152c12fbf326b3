// A full region: writes fail with no_space and change nothing, every acknowledged key survives, the tree
// verifies, and after erases free space, writes succeed again. Also under a frozen root, where erases
// themselves need copy-on-write copies.
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/art.hpp"
#include "mmap/mapped_region.hpp"

namespace tessel::index {
namespace {

class ArtExhaustionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = mmap::mapped_region::create_anonymous(4U << 20, false);
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    region_ = std::move(*r);
    tree_ = std::make_unique<art<mmap::mapped_region>>(*region_);
  }

  // Inserts until the region is full; returns how many writes failed.
  int fill(std::mt19937_64& rng) {
    int failures = 0;
    for (int i = 0; i < 200000; ++i) {
      const std::string key = "/k/" + std::to_string(rng() % 1000000);
      const std::string value(rng() % 64, 'x');
      auto r = tree_->upsert(as_bytes(key), as_bytes(value));
      if (!r) {
        ++failures;
        EXPECT_EQ(r.error().code(), errc::no_space);
        EXPECT_NE(r.error().message().find("reservation"), std::string_view::npos) << r.error().to_string();
        continue;
      }
      model_[key] = value;
    }
    return failures;
  }

  void expect_matches_model(const art<mmap::mapped_region>& t) {
    ASSERT_TRUE(t.verify().has_value()) << t.verify().error().to_string();
    ASSERT_EQ(t.size(), model_.size());
    for (const auto& [k, v] : model_) {
      const auto found = t.find(as_bytes(k));
      ASSERT_TRUE(found.has_value()) << k;
      EXPECT_EQ(as_string_view(*found), v);
    }
  }

  std::unique_ptr<mmap::mapped_region> region_;
  std::unique_ptr<art<mmap::mapped_region>> tree_;
  std::map<std::string, std::string> model_;
};

TEST_F(ArtExhaustionTest, FullRegionLosesNothingAndRecoversAfterErases) {
  std::mt19937_64 rng(7);
  ASSERT_GT(fill(rng), 0) << "the region never filled; the test proves nothing";
  expect_matches_model(*tree_);

  int erased = 0;
  for (auto it = model_.begin(); it != model_.end() && erased < 25000; ++erased) {
    auto r = tree_->erase(as_bytes(it->first));
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    ASSERT_TRUE(*r);
    it = model_.erase(it);
  }
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "/after/" + std::to_string(i);
    ASSERT_TRUE(tree_->upsert(as_bytes(key), as_bytes(key)).has_value()) << "write failed after erases freed space";
    model_[key] = key;
  }
  expect_matches_model(*tree_);
}

TEST_F(ArtExhaustionTest, FullRegionUnderFrozenRootFailsErasesCleanly) {
  std::mt19937_64 rng(11);
  ASSERT_GT(fill(rng), 0);
  const auto frozen_model = model_;
  const frozen_root frozen = tree_->freeze();
  int failed = 0;
  for (auto it = model_.begin(); it != model_.end();) {
    auto r = tree_->erase(as_bytes(it->first));
    if (!r) {
      ++failed;
      EXPECT_EQ(r.error().code(), errc::no_space);
      ++it;
      continue;
    }
    it = model_.erase(it);
  }
  EXPECT_GT(failed, 0) << "erases under a frozen root in a full region must need copies";
  expect_matches_model(*tree_);
  ASSERT_TRUE(tree_->verify(frozen).has_value());
  auto c = tree_->cursor(frozen);
  auto expected = frozen_model.begin();
  for (c.seek_to_first(); c.valid(); c.next(), ++expected) {
    ASSERT_NE(expected, frozen_model.end());
    EXPECT_EQ(as_string_view(c.key()), expected->first);
    EXPECT_EQ(as_string_view(c.value()), expected->second);
  }
  EXPECT_EQ(expected, frozen_model.end());
}

}  // namespace
}  // namespace tessel::index
