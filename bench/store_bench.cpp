// Micro-benchmarks of the public API (include/tessel/store.hpp): what a user of tessel::store pays, the
// store's checks and its scan_range/cursor wrappers included. The cases are in support/micro_benchmarks.hpp.
#include <chrono>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "tessel/store.hpp"

#include "bench/support/cursor_scanner.hpp"
#include "bench/support/key_set.hpp"
#include "bench/support/micro_benchmarks.hpp"
#include "bench/support/micro_workload.hpp"
#include "bench/support/outcome.hpp"
#include "bench/support/sink.hpp"

namespace {

using namespace tessel::bench;
using tessel::key_view;
using tessel::value_view;

struct store_fixture {
  key_kind kind;
  std::size_t size;
  micro_workload w;
  range_bounds ranges;
  std::unique_ptr<tessel::store> store;
  std::string failure;

  store_fixture(key_kind k, std::size_t n) : kind(k), size(n), w(make_micro_workload(k, n)) {
    auto opened = tessel::store::open(tessel::options{});
    if (!opened) {
      failure = "store::open: " + opened.error().to_string();
      return;
    }
    store = std::move(*opened);
    for (std::size_t i = 0; i < w.load.size(); ++i) {
      if (auto r = store->put(w.load.bytes(i), tessel::as_bytes(w.value)); !r) {
        failure = "load: " + r.error().to_string();
        return;
      }
    }
    // The store's own order gives the range-scan bounds; it must hold every key loaded.
    key_set sorted;
    sorted.reserve(w.load.size(), w.load.total_bytes());
    tessel::cursor c = store->new_cursor();
    for (c.seek_to_first(); c.valid(); c.next()) sorted.push_back(tessel::as_string_view(c.key()));
    if (sorted.size() != size || store->len() != size) {
      failure = "after loading " + std::to_string(size) + " keys the store holds " + std::to_string(store->len()) +
                " and a full scan visits " + std::to_string(sorted.size());
      return;
    }
    ranges = make_ranges(sorted, w.probes.size());
  }

  [[nodiscard]] lookup get(key_view key) const noexcept {
    const auto r = store->get(key);
    if (!r) return {};
    return {r->data(), r->size(), true};
  }
  [[nodiscard]] tessel::result<void> put(key_view key, value_view value) noexcept { return store->put(key, value); }
  [[nodiscard]] tessel::result<bool> erase(key_view key) noexcept { return store->erase(key); }

  [[nodiscard]] scan_outcome prefix_scan(key_view prefix) const noexcept {
    scan_outcome out;
    for (const tessel::entry& e : store->prefix_scan(prefix)) {
      ++out.count;
      out.checksum += touch(e.key.data(), e.key.size()) + touch(e.value.data(), e.value.size());
    }
    return out;
  }
  [[nodiscard]] scan_outcome range_scan(key_view start, key_view end) const noexcept {
    scan_outcome out;
    for (const tessel::entry& e : store->range_scan(start, end)) {
      ++out.count;
      out.checksum += touch(e.key.data(), e.key.size()) + touch(e.value.data(), e.value.size());
    }
    return out;
  }

  using scanner_type = cursor_scanner<tessel::cursor>;

  [[nodiscard]] scanner_type scanner() const noexcept { return scanner_type(store->new_cursor()); }

  void add_counters(benchmark::State& state) const {
    const tessel::memory_usage m = store->memory();
    const auto keys = static_cast<double>(store->len());
    state.counters["keys"] = keys;
    state.counters["bytes_per_key"] = static_cast<double>(m.live_bytes) / keys;
    state.counters["committed_per_key"] = static_cast<double>(m.committed_bytes) / keys;
  }
};

/// The same store after store::compact(): leaves in key order, as a dump's load or a checkpoint's import
/// leaves them too. Adds the compaction's time as a counter.
struct compacted_store_fixture : store_fixture {
  double compact_seconds = 0;

  compacted_store_fixture(key_kind k, std::size_t n) : store_fixture(k, n) {
    if (!failure.empty()) return;
    const auto start = std::chrono::steady_clock::now();
    if (auto ok = store->compact(); !ok) {
      failure = "compact: " + ok.error().to_string();
      return;
    }
    compact_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  void add_counters(benchmark::State& state) const {
    store_fixture::add_counters(state);
    state.counters["compact_s"] = compact_seconds;
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_micro_context("tessel::store (public API)");
  register_micro_benchmarks<store_fixture>("store");
  register_micro_benchmarks<compacted_store_fixture>("store_compacted",
                                                     {"get", "prefix_scan", "range_scan", "full_scan"});
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
