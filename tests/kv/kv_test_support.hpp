// The kv store configurations the kv tests run over, and helpers to open them.
//
// Thread safety: test code.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tessel/kv_store.hpp"

#include "tests/support/temp_dir.hpp"

namespace tessel::test {

struct kv_config {
  std::string name;
  backend where = backend::dram;
  std::uint32_t shards = 1;
  shard_mode mode = shard_mode::inline_calls;
  durability level = durability::none;
};

inline void PrintTo(const kv_config& c, std::ostream* os) { *os << c.name; }

/// In memory inline (one shard and four), worker mode, and a durable store of three shards.
inline std::vector<kv_config> kv_configs() {
  return {{"dram_1_shard", backend::dram, 1, shard_mode::inline_calls, durability::none},
          {"dram_4_shards", backend::dram, 4, shard_mode::inline_calls, durability::none},
          {"dram_workers", backend::dram, 2, shard_mode::workers, durability::none},
          {"mmap_3_shards", backend::mmap, 3, shard_mode::inline_calls, durability::log}};
}

/// The configurations of kv_configs() kept in files.
inline std::vector<kv_config> durable_kv_configs() {
  std::vector<kv_config> out;
  for (kv_config& c : kv_configs()) {
    if (c.where != backend::dram) out.push_back(std::move(c));
  }
  return out;
}

/// Names parameterised tests after their configuration.
inline std::string kv_config_name(const ::testing::TestParamInfo<kv_config>& info) { return info.param.name; }

/// Opens `c`: in memory, or in `dir` (created when missing).
inline result<std::unique_ptr<kv_store>> open_kv(const kv_config& c, const std::string& dir,
                                                 const kv_options& kv = {}) {
  options o;
  o.backend = c.where;
  o.durability = c.level;
  o.log_segment_bytes = 1 << 20;  // small segments: reopening scans them quickly in debug builds
  shard_options s;
  s.shards = c.shards;
  s.mode = c.mode;
  s.pin_workers = false;
  s.bind_memory = false;
  if (c.where == backend::dram) return kv_store::open(o, s, kv);
  return kv_store::open(dir, o, s, kv);
}

/// A kv store of the test's configuration, opened for each test in a directory of its own.
class kv_test : public ::testing::TestWithParam<kv_config> {
 protected:
  void SetUp() override {
    auto kv = open_kv(GetParam(), dir());
    ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
    kv_ = std::move(*kv);
  }
  [[nodiscard]] std::string dir() const { return tmp_.sub("kv"); }
  /// Closes the store and opens it again (an in-memory store comes back empty).
  void reopen() {
    ASSERT_TRUE(kv_->close());
    kv_.reset();
    auto kv = open_kv(GetParam(), dir());
    ASSERT_TRUE(kv.has_value()) << kv.error().to_string();
    kv_ = std::move(*kv);
  }

  temp_dir tmp_;
  std::unique_ptr<kv_store> kv_;
};

}  // namespace tessel::test
