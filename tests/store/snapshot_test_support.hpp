// The backends snapshot tests run over (dram, mmap, pmem) and how they compare a snapshot with a model.
//
// Thread safety: test code; expect_snapshot may run on any thread that may read the snapshot.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "tessel/snapshot.hpp"
#include "tessel/store.hpp"

#include "tests/store/durable_test_support.hpp"
#include "tests/support/pmem_env.hpp"

namespace tessel::test {

struct dram_kind {
  static constexpr const char* name = "Dram";
  static constexpr bool durable = false;
  static options opts() { return {}; }
};
struct mmap_kind {
  static constexpr const char* name = "Mmap";
  static constexpr bool durable = true;
  static options opts() { return durable_options(durability::none); }
};
struct pmem_kind {
  static constexpr const char* name = "Pmem";
  static constexpr bool durable = true;
  static options opts() {
    force_pmem_flush();
    options o;
    o.backend = backend::pmem;
    o.durability = durability::none;
    o.pool_bytes = 64 << 20;
    o.log_segment_bytes = 1 << 20;
    return o;
  }
};

using kinds = ::testing::Types<dram_kind, mmap_kind, pmem_kind>;
using durable_kinds = ::testing::Types<mmap_kind, pmem_kind>;

class kind_names {
 public:
  template <class Kind>
  static std::string GetName(int /*index*/) {
    return Kind::name;
  }
};

/// Every entry of a snapshot, in cursor order.
inline pairs scan_all(const snapshot& s) {
  pairs out;
  cursor c = s.new_cursor();
  for (c.seek_to_first(); c.valid(); c.next()) out.emplace_back(to_string(c.key()), to_string(c.value()));
  return out;
}

/// The snapshot holds exactly `m`: point reads, a forward and a backward scan.
inline void expect_snapshot(const snapshot& s, const model& m) {
  EXPECT_EQ(s.len(), m.size());
  std::size_t wrong = 0;
  for (const auto& [k, v] : m) wrong += s.get_string(k).value_or("<missing>") != v;
  EXPECT_EQ(wrong, 0U) << "point reads differ from the model";
  EXPECT_TRUE(scan_all(s) == as_pairs(m)) << "a forward scan differs from the model";
  pairs backward;
  cursor c = s.new_cursor();
  for (c.seek_to_last(); c.valid(); c.prev()) backward.emplace_back(to_string(c.key()), to_string(c.value()));
  const pairs forward = as_pairs(m);
  EXPECT_TRUE(pairs(forward.rbegin(), forward.rend()) == backward) << "a backward scan differs";
}

}  // namespace tessel::test
