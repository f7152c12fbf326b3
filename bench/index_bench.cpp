// Micro-benchmarks of the tree itself (index/art.hpp over an anonymous mmap::mapped_region), without the store's
// wrappers: the difference to store_bench is what the public API costs. The cases are in support/micro_benchmarks.hpp.
#include <memory>
#include <optional>
#include <string>

#include <benchmark/benchmark.h>

#include "bench/support/cursor_scanner.hpp"
#include "bench/support/key_set.hpp"
#include "bench/support/micro_benchmarks.hpp"
#include "bench/support/micro_workload.hpp"
#include "bench/support/outcome.hpp"
#include "bench/support/sink.hpp"
#include "index/art.hpp"
#include "mmap/mapped_region.hpp"

namespace {

using namespace tessel::bench;
using tessel::key_view;
using tessel::value_view;
using tree = tessel::index::art<tessel::mmap::mapped_region>;
using tree_cursor = tessel::index::art_cursor<tessel::mmap::mapped_region>;

struct index_fixture {
  key_kind kind;
  std::size_t size;
  micro_workload w;
  range_bounds ranges;
  std::unique_ptr<tessel::mmap::mapped_region> region;
  std::unique_ptr<tree> art;
  tessel::index::tree_stats shape;
  std::string failure;

  index_fixture(key_kind k, std::size_t n) : kind(k), size(n), w(make_micro_workload(k, n)) {
    auto created = tessel::mmap::mapped_region::create_anonymous(0, true);
    if (!created) {
      failure = "mapped_region::create_anonymous: " + created.error().to_string();
      return;
    }
    region = std::move(*created);
    art = std::make_unique<tree>(*region);
    for (std::size_t i = 0; i < w.load.size(); ++i) {
      if (auto r = art->upsert(w.load.bytes(i), tessel::as_bytes(w.value)); !r) {
        failure = "load: " + r.error().to_string();
        return;
      }
    }
    key_set sorted;
    sorted.reserve(w.load.size(), w.load.total_bytes());
    tree_cursor c = art->cursor();
    for (c.seek_to_first(); c.valid(); c.next()) sorted.push_back(tessel::as_string_view(c.key()));
    if (sorted.size() != size || art->size() != size) {
      failure = "after loading " + std::to_string(size) + " keys the tree holds " + std::to_string(art->size()) +
                " and a full scan visits " + std::to_string(sorted.size());
      return;
    }
    ranges = make_ranges(sorted, w.probes.size());
    shape = art->stats();
  }

  [[nodiscard]] lookup get(key_view key) const noexcept {
    const std::optional<value_view> v = art->find(key);
    if (!v) return {};
    return {v->data(), v->size(), true};
  }
  [[nodiscard]] tessel::result<void> put(key_view key, value_view value) noexcept {
    auto r = art->upsert(key, value);
    if (!r) return tl::unexpected(r.error());
    return {};
  }
  [[nodiscard]] tessel::result<bool> erase(key_view key) noexcept { return art->erase(key); }

  [[nodiscard]] scan_outcome prefix_scan(key_view prefix) const noexcept {
    scan_outcome out;
    tree_cursor c = art->cursor();
    // Scoped as the store's scans are: the cursor ends with the prefix, and reads nothing after it.
    for (c.seek_within(prefix, prefix.size()); c.valid(); c.next()) {
      ++out.count;
      out.checksum += touch(c.key().data(), c.key().size()) + touch(c.value().data(), c.value().size());
    }
    return out;
  }
  [[nodiscard]] scan_outcome range_scan(key_view start, key_view end) const noexcept {
    scan_outcome out;
    tree_cursor c = art->cursor();
    for (c.seek_range(start, end); c.valid() && tessel::compare(c.key(), end) < 0; c.next()) {
      ++out.count;
      out.checksum += touch(c.key().data(), c.key().size()) + touch(c.value().data(), c.value().size());
    }
    return out;
  }

  using scanner_type = cursor_scanner<tree_cursor>;

  [[nodiscard]] scanner_type scanner() const noexcept { return scanner_type(art->cursor()); }

  void add_counters(benchmark::State& state) const {
    const tessel::index::region_usage u = region->usage();
    const auto keys = static_cast<double>(art->size());
    state.counters["keys"] = keys;
    state.counters["bytes_per_key"] = static_cast<double>(u.live_bytes) / keys;
    state.counters["committed_per_key"] = static_cast<double>(u.committed_bytes) / keys;
    // The shape at build time (a walk of the whole tree is too slow to repeat per run).
    state.counters["n4"] = static_cast<double>(shape.n4);
    state.counters["n16"] = static_cast<double>(shape.n16);
    state.counters["n32"] = static_cast<double>(shape.n32);
    state.counters["n48"] = static_cast<double>(shape.n48);
    state.counters["n256"] = static_cast<double>(shape.n256);
    state.counters["max_depth"] = static_cast<double>(shape.max_depth);
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_micro_context("tessel::index::art<mmap::mapped_region> (internal tree)");
  register_micro_benchmarks<index_fixture>("index");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
