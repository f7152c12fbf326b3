// Randomized differential test of the art against std::map<std::string, std::string>: mixed inserts,
// overwrites, erases, finds, seeks and bounded scans over five key distributions, with fixed seeds. After
// each batch the whole tree is compared (verify(), size, iteration both ways, find of every key) and a few
// hundred random seeks and scans. A failure names the seed, the batch and the first difference.
//
// TESSEL_DIFFERENTIAL_SCALE multiplies the operation counts and picks other seeds (the "slow" variant builds
// this file with 10).
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/index/art_test_support.hpp"

#ifndef TESSEL_DIFFERENTIAL_SCALE
#define TESSEL_DIFFERENTIAL_SCALE 1
#endif

namespace tessel::index::test {
namespace {

enum class distribution : std::uint8_t {
  dense_integers,  // big-endian 8-byte integers from a dense range: full n256 nodes at the bottom
  sparse_random,   // random bytes, 1..32 long: wide top, long leaves
  paths,           // /tenants/tNNN/apps/app-NNNNN/instances/i-NNNN/state: long shared prefixes
  prefix_family,   // random strings and all their prefixes: terminals everywhere
  tiny_alphabet,   // bytes {0x00, 0x01, 0xFF} only, 0..14 long: deep trees, zero bytes, empty key
};

struct differential_case {
  const char* name;
  distribution dist;
  std::uint64_t seed;
  std::size_t operations;
  std::size_t batch;     // operations between two whole-tree checks
  std::size_t max_keys;  // above it, inserts of fresh keys turn into erases: the tree breathes around it
};

std::ostream& operator<<(std::ostream& os, const differential_case& c) { return os << c.name; }

class key_generator {
 public:
  key_generator(distribution dist, rng& r) : dist_(dist), rng_(r) {}

  std::string next() {
    switch (dist_) {
      case distribution::dense_integers: {
        // Mostly a dense block, sometimes far away, so the top levels have structure too.
        std::uint64_t v = rng_.below(24000);
        if (rng_.percent(5)) v += (rng_.next() & 0xFFFF) << 32;
        std::string k(8, '\0');
        for (int i = 7; i >= 0; --i, v >>= 8) k[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
        return k;
      }
      case distribution::sparse_random: return rng_.bytes(1 + rng_.below(32));
      case distribution::paths: {
        char buf[96];
        const int n = std::snprintf(buf, sizeof buf, "/tenants/t%03zu/apps/app-%05zu/instances/i-%04zu/state",
                                    rng_.below(25), rng_.below(400), rng_.below(12));
        std::string k(buf, static_cast<std::size_t>(n));
        // Cut some keys short: a tenant or app path is then a prefix of the keys below it.
        if (rng_.percent(10)) k.resize(rng_.below(k.size() + 1));
        return k;
      }
      case distribution::prefix_family: {
        std::string base(1 + rng_.below(16), 'a');
        for (char& c : base) c = static_cast<char>('a' + rng_.below(4));
        return base.substr(0, rng_.below(base.size() + 1));  // the string or one of its prefixes
      }
      case distribution::tiny_alphabet: {
        static constexpr char alphabet[] = {'\x00', '\x01', '\xff'};
        std::string k(rng_.below(15), '\0');
        for (char& c : k) c = alphabet[rng_.below(3)];
        return k;
      }
    }
    return {};
  }

  /// A key near `k` that is probably absent: cut, extended, or with one byte moved up or down.
  std::string near(const std::string& k) {
    std::string p = k;
    switch (rng_.below(5)) {
      case 0: p.resize(rng_.below(p.size() + 1)); break;
      case 1: p += rng_.byte(); break;
      case 2: p += rng_.percent(50) ? '\x00' : '\xff'; break;
      default:
        if (!p.empty()) {
          const std::size_t i = rng_.below(p.size());
          p[i] = static_cast<char>(static_cast<unsigned char>(p[i]) + (rng_.percent(50) ? 1 : 255));
          if (rng_.percent(50)) p.resize(i + 1);
        }
        break;
    }
    return p;
  }

 private:
  distribution dist_;
  rng& rng_;
};

class ArtDifferentialTest : public ::testing::TestWithParam<differential_case> {
 protected:
  std::string value() {
    const std::size_t n = rng_.percent(1) ? 100 + rng_.below(2000) : rng_.below(24);
    return rng_.bytes(n);
  }
  const std::string& pooled() { return pool_[rng_.below(pool_.size())]; }
  std::string probe() { return rng_.percent(50) ? gen_.near(pooled()) : (rng_.percent(50) ? pooled() : gen_.next()); }

  /// One random operation against both the tree and the model.
  ::testing::AssertionResult step() {
    const std::size_t r = rng_.below(100);
    if (pool_.empty() || (r < 30 && model_.size() < GetParam().max_keys)) {
      std::string k = gen_.next();
      auto res = put(f_.tree, model_, k, value());
      pool_.push_back(std::move(k));
      return res;
    }
    if (r < 30) return del(f_.tree, model_, pooled());
    if (r < 42) return put(f_.tree, model_, pooled(), value());
    if (r < 62) return del(f_.tree, model_, pooled());
    if (r < 65) return del(f_.tree, model_, gen_.next());
    if (r < 85) return finds(f_.tree, model_, pooled());
    if (r < 92) return finds(f_.tree, model_, probe());
    if (r < 97) return seeks(f_.tree, model_, probe());
    if (r < 98) {
      const std::string& k = pooled();
      return prefix_scan_matches(f_.tree, model_, k.substr(0, rng_.below(k.size() + 1)), nullptr, 16);
    }
    const std::string a = probe();
    const std::string b = probe();
    return range_scan_matches(f_.tree, model_, a, b, nullptr, 16);
  }

  /// The whole tree against the model, then random seeks and scans.
  ::testing::AssertionResult full_check() {
    if (auto r = matches(f_.tree, model_); !r) return r;
    for (int i = 0; i < 100; ++i) {
      if (auto r = seeks(f_.tree, model_, probe()); !r) return r;
    }
    for (int i = 0; i < 10; ++i) {
      const std::string& k = pooled();
      if (auto r = prefix_scan_matches(f_.tree, model_, k.substr(0, rng_.below(k.size() + 1)), nullptr, 300); !r) {
        return r;
      }
      if (auto r = range_scan_matches(f_.tree, model_, probe(), probe(), nullptr, 300); !r) return r;
    }
    return ::testing::AssertionSuccess();
  }

  tree_fixture f_;
  model model_;
  std::vector<std::string> pool_;
  // The slow variant runs other seeds, not a longer run of the same ones.
  const std::uint64_t seed_ = GetParam().seed * TESSEL_DIFFERENTIAL_SCALE;
  rng rng_{seed_};
  key_generator gen_{GetParam().dist, rng_};
};

TEST_P(ArtDifferentialTest, MatchesStdMap) {
  const differential_case& c = GetParam();
  const std::size_t operations = c.operations * TESSEL_DIFFERENTIAL_SCALE;
  std::size_t done = 0;
  std::size_t max_size = 0;
  for (std::size_t batch = 0; done < operations; ++batch) {
    for (std::size_t i = 0; i < c.batch && done < operations; ++i, ++done) {
      ASSERT_TRUE(step()) << "seed " << seed_ << ", operation " << done;
    }
    if (model_.size() > max_size) max_size = model_.size();
    ASSERT_TRUE(full_check()) << "seed " << seed_ << ", after batch " << batch << " (" << done << " operations)";
    // Keep the pool to the live keys and the newest misses, so erases and overwrites mostly hit.
    const std::size_t recent = pool_.size() < 500 ? pool_.size() : 500;
    std::vector<std::string> pool(pool_.end() - static_cast<std::ptrdiff_t>(recent), pool_.end());
    for (const auto& [k, v] : model_) pool.push_back(k);
    pool_ = std::move(pool);
  }
  // Erase everything that is left, checking on the way down, so the shrink paths run as much as the growth.
  std::vector<std::string> rest;
  for (const auto& [k, v] : model_) rest.push_back(k);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::size_t j = i + rng_.below(rest.size() - i);
    std::swap(rest[i], rest[j]);
    ASSERT_TRUE(del(f_.tree, model_, rest[i]));
    if ((i + 1) % (rest.size() / 4 + 1) == 0) {
      ASSERT_TRUE(full_check()) << "erasing the rest, " << i + 1 << " done";
    }
  }
  ASSERT_TRUE(matches(f_.tree, model_));
  EXPECT_EQ(f_.tree.size(), 0u);
  EXPECT_GT(max_size, 100u) << "the distribution never built a tree worth testing";
  RecordProperty("operations", std::to_string(done));
  RecordProperty("max_size", std::to_string(max_size));
}

// Two million operations in all at scale 1.
INSTANTIATE_TEST_SUITE_P(
    Distributions, ArtDifferentialTest,
    ::testing::Values(differential_case{"DenseIntegers", distribution::dense_integers, 0xD1FF'0001, 400000, 20000,
                                        6000},
                      differential_case{"SparseRandom", distribution::sparse_random, 0xD1FF'0002, 400000, 20000, 6000},
                      differential_case{"Paths", distribution::paths, 0xD1FF'0003, 400000, 20000, 6000},
                      differential_case{"PrefixFamily", distribution::prefix_family, 0xD1FF'0004, 400000, 20000, 6000},
                      differential_case{"TinyAlphabet", distribution::tiny_alphabet, 0xD1FF'0005, 400000, 20000, 6000}),
    [](const ::testing::TestParamInfo<differential_case>& c) { return std::string(c.param.name); });

}  // namespace
}  // namespace tessel::index::test
