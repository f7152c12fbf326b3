// The kv key rules and watch patterns (kv/path_keys.hpp), case by case.
#include "kv/path_keys.hpp"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tessel::detail {
namespace {

TEST(PathKeysTest, ValidPathKeys) {
  for (const std::string& k :
       std::vector<std::string>{"/a", "/workloads/my-app-abc123/instances/i1", "/peers/QmXyz.../reputation",
                                "/credits/alice/bob", "/a b/ü", "/" + std::string(255, 's')}) {
    EXPECT_TRUE(check_key(k, key_rules::paths)) << k;
  }
}

TEST(PathKeysTest, InvalidPathKeysNameTheirProblem) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty"},
      {"a/b", "starts with '/'"},
      {"/", "empty path segment"},
      {"/a//b", "empty path segment"},
      {"/a/", "empty path segment"},
      {"/a/./b", "\".\" or \"..\""},
      {"/..", "\".\" or \"..\""},
      {std::string("/a\0b", 4), "NUL"},
      {"/" + std::string(256, 's'), "path segment of 256 bytes"},
      {"/" + std::string(4096, 's'), "over the limit of 4096"},
  };
  for (const auto& [key, problem] : cases) {
    auto ok = check_key(key, key_rules::paths);
    ASSERT_FALSE(ok.has_value()) << key;
    EXPECT_EQ(ok.error().code(), errc::invalid_argument);
    EXPECT_NE(ok.error().message().find(problem), std::string_view::npos) << ok.error().message();
  }
}

/// The path rules written plainly, to check the fast screen in check_key against.
bool valid_by_the_rules(const std::string& key) {
  if (key.empty() || key.size() > max_kv_key_size || key.front() != '/') return false;
  if (key.find('\0') != std::string::npos) return false;
  std::size_t start = 1;
  while (true) {
    const std::size_t end = std::min(key.find('/', start), key.size());
    const std::string segment = key.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == ".." || segment.size() > max_kv_segment_size) return false;
    if (end == key.size()) return true;
    start = end + 1;
  }
}

TEST(PathKeysTest, TheFastScreenAgreesWithTheRulesOnRandomKeys) {
  std::mt19937_64 rng(5);
  const char alphabet[] = {'/', '/', '.', 'a', 'b', '\0'};
  for (int i = 0; i < 200000; ++i) {
    // Lengths around the 16-byte chunks and the 256-byte screen limit; '/' first most of the time.
    const std::size_t n = 1 + (i % 4 == 0 ? rng() % 300 : rng() % 40);
    std::string key(n, 'a');
    for (char& c : key) c = alphabet[rng() % sizeof alphabet];
    if (rng() % 4 != 0) key[0] = '/';
    if (i % 3 == 0) {  // mostly plain segments, so valid keys are common too
      for (char& c : key) {
        if (c == '\0' || c == '.') c = 'x';
      }
    }
    ASSERT_EQ(check_key(key, key_rules::paths).has_value(), valid_by_the_rules(key)) << testing::PrintToString(key);
  }
}

TEST(PathKeysTest, ByteKeysOnlyAvoidEmptinessTheLimitAndTheReservedPrefix) {
  EXPECT_TRUE(check_key(std::string("\0\xFF", 2), key_rules::bytes));
  EXPECT_TRUE(check_key("relative", key_rules::bytes));
  EXPECT_FALSE(check_key("", key_rules::bytes));
  EXPECT_FALSE(check_key("\xFF\xFFtessel/anything", key_rules::bytes));
  EXPECT_FALSE(check_key(std::string(4097, 'k'), key_rules::bytes));
}

TEST(PathKeysTest, PrefixPatternsMatchWholeSegmentsOnly) {
  auto p = parse_pattern("/a/*", key_rules::paths);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->matches("/a/b"));
  EXPECT_TRUE(p->matches("/a/b/c"));
  EXPECT_FALSE(p->matches("/ab"));
  EXPECT_FALSE(p->matches("/a"));
  EXPECT_FALSE(p->matches("/b/a/c"));
}

TEST(PathKeysTest, ExactAndEverythingPatterns) {
  auto exact = parse_pattern("/a/b", key_rules::paths);
  ASSERT_TRUE(exact.has_value());
  EXPECT_TRUE(exact->matches("/a/b"));
  EXPECT_FALSE(exact->matches("/a/bc"));
  EXPECT_FALSE(exact->matches("/a/b/c"));
  auto all = parse_pattern("*", key_rules::paths);
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->matches("/anything"));
  EXPECT_FALSE(all->matches("\xFF\xFFtessel/kv/meta")) << "tessel's records are never events";
  auto root = parse_pattern("/*", key_rules::paths);
  ASSERT_TRUE(root.has_value());
  EXPECT_TRUE(root->matches("/x/y"));
}

TEST(PathKeysTest, MalformedPatternsAreRefused) {
  for (const char* bad : {"/a*", "/a/*/b", "/a/**", "a/*", "/a//*", "", "/*x"}) {
    auto p = parse_pattern(bad, key_rules::paths);
    ASSERT_FALSE(p.has_value()) << bad;
    EXPECT_EQ(p.error().code(), errc::invalid_argument);
  }
}

TEST(PathKeysTest, BytePatternsTakeATrailingStarAsAPrefix) {
  auto p = parse_pattern("user:*", key_rules::bytes);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->matches("user:42"));
  EXPECT_FALSE(p->matches("users"));
}

}  // namespace
}  // namespace tessel::detail
