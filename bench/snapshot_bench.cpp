// Micro-benchmarks of snapshots (include/tessel/snapshot.hpp) on a dram store of random 16-byte keys:
//   snapshot/take:                 take and drop a snapshot (O(1): a freeze and a registration);
//   snapshot/overwrite/plain:      overwrite random present keys, no snapshot;
//   snapshot/overwrite/held:       the same with a snapshot held, after one pass that copied every path --
//                                  what writes cost once a snapshot's blocks are shared no more;
//   snapshot/get:                  a get from a held snapshot (vs the store's own get in store_bench);
//   checkpoint/export, /import:    a snapshot to a checkpoint file in $TMPDIR and back into a new dram
//                                  store, in file bytes per second, for 16- and 100-byte values; export
//                                  with the file left in the page cache (sync 0) and synced (sync 1).
// The goals (docs/benchmarks.md): take <= 1 us at 10M keys; held overwrite <= 1.3x plain; export >= 1 GB/s,
// import >= 500 MB/s.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include "tessel/checkpoint.hpp"
#include "tessel/snapshot.hpp"
#include "tessel/store.hpp"

#include "bench/support/micro_workload.hpp"
#include "bench/support/sink.hpp"

namespace {

using namespace tessel::bench;

/// A dram store loaded with `size` random 16-byte keys, optionally with a snapshot held whose paths have
/// all been copied once.
struct loaded_store {
  micro_workload w;
  std::unique_ptr<tessel::store> store;
  tessel::snapshot held;
  std::string failure;

  loaded_store(std::size_t size, bool hold) : w(make_micro_workload(key_kind::random16, size)) {
    auto opened = tessel::store::open(tessel::options{});
    if (!opened) {
      failure = opened.error().to_string();
      return;
    }
    store = std::move(*opened);
    for (std::size_t i = 0; i < w.load.size(); ++i) {
      if (auto r = store->put(w.load.bytes(i), tessel::as_bytes(w.value)); !r) {
        failure = r.error().to_string();
        return;
      }
    }
    if (!hold) return;
    auto snap = store->snapshot();
    if (!snap) {
      failure = snap.error().to_string();
      return;
    }
    held = std::move(*snap);
    for (std::size_t i = 0; i < w.load.size(); ++i) {
      if (auto r = store->put(w.load.bytes(i), tessel::as_bytes(w.other_value)); !r) {
        failure = r.error().to_string();
        return;
      }
    }
  }
};

/// One loaded store per (size, hold), built on first use and kept: loading 10M keys takes seconds.
loaded_store& fixture(std::size_t size, bool hold) {
  static std::map<std::pair<std::size_t, bool>, std::unique_ptr<loaded_store>> cache;
  auto& slot = cache[{size, hold}];
  if (!slot) slot = std::make_unique<loaded_store>(size, hold);
  return *slot;
}

void bm_take(benchmark::State& state) {
  loaded_store& f = fixture(static_cast<std::size_t>(state.range(0)), false);
  if (!f.failure.empty()) return state.SkipWithError(f.failure.c_str());
  for (auto _ : state) {
    auto snap = f.store->snapshot();
    if (!snap) return state.SkipWithError(snap.error().to_string().c_str());
    benchmark::DoNotOptimize(snap->len());
  }
}

void bm_overwrite(benchmark::State& state, bool hold) {
  loaded_store& f = fixture(static_cast<std::size_t>(state.range(0)), hold);
  if (!f.failure.empty()) return state.SkipWithError(f.failure.c_str());
  const key_set& keys = f.w.probes;
  std::size_t i = 0;
  for (auto _ : state) {
    if (auto r = f.store->put(keys.bytes(i), tessel::as_bytes(f.w.value)); !r) {
      return state.SkipWithError(r.error().to_string().c_str());
    }
    if (++i == keys.size()) i = 0;
  }
  state.counters["bytes_per_key"] =
      static_cast<double>(f.store->memory().live_bytes) / static_cast<double>(f.store->len());
}

void bm_get(benchmark::State& state) {
  loaded_store& f = fixture(static_cast<std::size_t>(state.range(0)), true);
  if (!f.failure.empty()) return state.SkipWithError(f.failure.c_str());
  const key_set& keys = f.w.probes;
  std::size_t i = 0;
  std::size_t missing = 0;
  for (auto _ : state) {
    const auto v = f.held.get(keys.bytes(i));
    missing += !v.has_value();
    if (v) benchmark::DoNotOptimize(v->data());
    if (++i == keys.size()) i = 0;
  }
  if (missing != 0) state.SkipWithError("a key loaded before the snapshot is missing from it");
}

/// A dram store of `size` random 16-byte keys with values of `value_bytes`, and its checkpoint file.
struct checkpoint_fixture {
  std::unique_ptr<tessel::store> store;
  std::string file;
  std::uint64_t file_bytes = 0;
  std::string failure;

  checkpoint_fixture(std::size_t size, std::size_t value_bytes) {
    const micro_workload w = make_micro_workload(key_kind::random16, size);
    auto opened = tessel::store::open(tessel::options{});
    if (!opened) {
      failure = opened.error().to_string();
      return;
    }
    store = std::move(*opened);
    const std::string value(value_bytes, 'v');
    for (std::size_t i = 0; i < w.load.size(); ++i) {
      if (auto r = store->put(w.load.bytes(i), tessel::as_bytes(value)); !r) {
        failure = r.error().to_string();
        return;
      }
    }
    const char* tmp = std::getenv("TMPDIR");
    file = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tessel-bench-checkpoint-" +
           std::to_string(size) + "-" + std::to_string(value_bytes) + "-" + std::to_string(::getpid());
    std::filesystem::remove(file);
    auto snap = store->snapshot();
    auto info = snap ? tessel::export_checkpoint(*snap, file) : tl::unexpected(snap.error());
    if (!info) {
      failure = info.error().to_string();
      return;
    }
    file_bytes = info->file_bytes;
  }
  checkpoint_fixture(const checkpoint_fixture&) = delete;
  checkpoint_fixture& operator=(const checkpoint_fixture&) = delete;
  ~checkpoint_fixture() {
    std::error_code ec;
    std::filesystem::remove(file, ec);
  }
};

checkpoint_fixture& checkpoint_data(std::size_t size, std::size_t value_bytes) {
  static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<checkpoint_fixture>> cache;
  auto& slot = cache[{size, value_bytes}];
  if (!slot) slot = std::make_unique<checkpoint_fixture>(size, value_bytes);
  return *slot;
}

/// Arg 2: 1 syncs the file (the default of export), 0 leaves it in the page cache.
void bm_export(benchmark::State& state) {
  checkpoint_fixture& f =
      checkpoint_data(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  if (!f.failure.empty()) return state.SkipWithError(f.failure.c_str());
  const std::string out = f.file + ".out";
  tessel::export_options options;
  options.sync = state.range(2) != 0;
  for (auto _ : state) {
    auto snap = f.store->snapshot();
    auto info = snap ? tessel::export_checkpoint(*snap, out, options) : tl::unexpected(snap.error());
    state.PauseTiming();
    std::filesystem::remove(out);
    state.ResumeTiming();
    if (!info) return state.SkipWithError(info.error().to_string().c_str());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f.file_bytes));
}

void bm_import(benchmark::State& state) {
  checkpoint_fixture& f =
      checkpoint_data(static_cast<std::size_t>(state.range(0)), static_cast<std::size_t>(state.range(1)));
  if (!f.failure.empty()) return state.SkipWithError(f.failure.c_str());
  for (auto _ : state) {
    state.PauseTiming();
    auto target = tessel::store::open(tessel::options{});
    state.ResumeTiming();
    if (!target) return state.SkipWithError(target.error().to_string().c_str());
    auto info = tessel::import_checkpoint(f.file, **target);
    if (!info) return state.SkipWithError(info.error().to_string().c_str());
    if (info->keys != f.store->len()) return state.SkipWithError("the import holds another key count");
    state.PauseTiming();
    target->reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f.file_bytes));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const std::size_t n : micro_sizes()) {
    const auto size = static_cast<std::int64_t>(n);
    benchmark::RegisterBenchmark("snapshot/take", bm_take)->Arg(size);
    benchmark::RegisterBenchmark("snapshot/overwrite/plain", bm_overwrite, false)->Arg(size);
    benchmark::RegisterBenchmark("snapshot/overwrite/held", bm_overwrite, true)->Arg(size);
    benchmark::RegisterBenchmark("snapshot/get", bm_get)->Arg(size);
    for (const std::int64_t value_bytes : {16, 100}) {
      for (const std::int64_t sync : {0, 1}) {
        // Real time: export writes on a second thread (store/checkpoint.cpp), which CPU time would not count.
        benchmark::RegisterBenchmark("checkpoint/export", bm_export)
            ->Args({size, value_bytes, sync})
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
      benchmark::RegisterBenchmark("checkpoint/import", bm_import)
          ->Args({size, value_bytes})
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
