// Routing keys to shards: each rule's routing part (whole key, hash tag with its edge cases, leading path
// components), the hash being XXH3-64 of that part reduced by multiply-shift (so stable across processes),
// an even spread over shards, and the limits.
#include "store/shard_router.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/checksum.hpp"

namespace tessel::detail {
namespace {

shard_router router(std::uint32_t shards, routing_rule rule = {}) {
  auto r = shard_router::make(shards, rule);
  EXPECT_TRUE(r.has_value()) << r.error().to_string();
  return *r;
}

std::string part(const shard_router& r, const std::string& key) {
  return tessel::to_string(r.routing_part(as_bytes(key)));
}

TEST(ShardRouterTest, HashTagsRouteByTheirText) {
  const shard_router r = router(16, {routing_kind::hash_tag});
  EXPECT_EQ(part(r, "user:{42}:cart"), "42");
  EXPECT_EQ(part(r, "user:{42}:profile"), "42");
  EXPECT_EQ(r.shard_of(as_bytes(std::string("user:{42}:cart"))), r.shard_of(as_bytes(std::string("{42}"))));
  EXPECT_EQ(part(r, "a{b}c{d}"), "b") << "the first tag counts";
  EXPECT_EQ(part(r, "no tag"), "no tag");
  EXPECT_EQ(part(r, "empty {} tag"), "empty {} tag") << "an empty tag is no tag";
  EXPECT_EQ(part(r, "open { only"), "open { only");
  EXPECT_EQ(part(r, "}{x}"), "x");
}

TEST(ShardRouterTest, PathComponentsRouteByTheLeadingOnes) {
  const shard_router two = router(16, {routing_kind::path_components, 2});
  EXPECT_EQ(part(two, "/tenants/a/jobs/7"), "/tenants/a");
  EXPECT_EQ(part(two, "/tenants/a"), "/tenants/a");
  EXPECT_EQ(part(two, "/tenants"), "/tenants") << "fewer components: all of it";
  EXPECT_EQ(part(two, "tenants/a/jobs"), "tenants/a") << "without a leading separator";
  EXPECT_EQ(part(two, ""), "");
  const shard_router one = router(16, {routing_kind::path_components, 1});
  EXPECT_EQ(part(one, "/workloads/app-1/instances/i7"), "/workloads");
  EXPECT_EQ(one.shard_of(as_bytes(std::string("/workloads/app-1"))),
            one.shard_of(as_bytes(std::string("/workloads/app-2/x"))));
}

TEST(ShardRouterTest, TheShardIsXxh3OfThePartReducedByMultiplyShift) {
  const shard_router r = router(7);
  for (const std::string& key :
       std::vector<std::string>{"", "a", "/workloads/app-000123/instances/i7", std::string(300, 'k')}) {
    __extension__ using u128 = unsigned __int128;
    const auto want = static_cast<std::uint32_t>((static_cast<u128>(checksum64(as_bytes(key))) * 7) >> 64);
    EXPECT_EQ(r.shard_of(as_bytes(key)), want) << key;
  }
  // XXH3-64 of the empty input is fixed by its specification: the mapping cannot drift between builds.
  EXPECT_EQ(checksum64({}), 0x2D06800538D394C2ULL);
}

TEST(ShardRouterTest, KeysSpreadEvenlyOverTheShards) {
  for (const std::uint32_t shards : {1U, 3U, 16U, 61U}) {
    const shard_router r = router(shards);
    std::vector<std::size_t> count(shards, 0);
    const std::size_t keys = 200'000;
    for (std::size_t i = 0; i < keys; ++i) {
      const std::string key = "/workloads/app-" + std::to_string(i) + "/instances/i" + std::to_string(i % 10);
      const std::uint32_t s = r.shard_of(as_bytes(key));
      ASSERT_LT(s, shards);
      ++count[s];
    }
    const double expected = static_cast<double>(keys) / shards;
    for (std::uint32_t s = 0; s < shards; ++s) {
      // Five standard deviations of a binomial count: a fair hash essentially never exceeds it.
      const double sigma = std::sqrt(expected * (1.0 - 1.0 / shards));
      EXPECT_LT(std::abs(static_cast<double>(count[s]) - expected), 5 * sigma + 1) << shards << " shards, shard " << s;
    }
  }
}

TEST(ShardRouterTest, LimitsAreInvalidArgument) {
  EXPECT_EQ(shard_router::make(0, {}).error().code(), errc::invalid_argument);
  EXPECT_EQ(shard_router::make(shard_router::max_shards + 1, {}).error().code(), errc::invalid_argument);
  EXPECT_EQ(shard_router::make(4, {routing_kind::path_components, 0}).error().code(), errc::invalid_argument);
  EXPECT_EQ(shard_router::make(4, {static_cast<routing_kind>(9), 0}).error().code(), errc::invalid_argument);
  EXPECT_TRUE(shard_router::make(shard_router::max_shards, {}).has_value());
  EXPECT_EQ(to_string(routing_rule{routing_kind::path_components, 3}), "path_components:3");
}

}  // namespace
}  // namespace tessel::detail
