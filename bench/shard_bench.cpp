// Micro-benchmarks of sharded stores (include/tessel/sharded_store.hpp; goals in docs/benchmarks.md):
//   shard/get/single, shard/get/inline:  a get from a one-shard dram store, and through a 2-shard sharded
//                                        store in inline mode (routing hash + the shard's get), p50 counters;
//   shard/read:                          gets from a sharded store's cut (readable from any thread) on 1, 2,
//                                        4, ... threads up to the cores: items/s of all threads, real time;
//   shard/worker_put:                    blocking puts through worker mode (2 pinned workers, dram) from 1
//                                        and 2 client threads: items/s, and p50/p99 of one put.
// Random 16-byte keys, 16-byte values, at 1M and 10M keys (1000 with TESSEL_BENCH_SMOKE=1).
#include <algorithm>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "tessel/sharded_store.hpp"
#include "tessel/store.hpp"

#include "bench/support/micro_benchmarks.hpp"
#include "bench/support/micro_workload.hpp"

namespace {

using namespace tessel::bench;

constexpr std::uint32_t shard_count = 2;

/// The same keys in a one-shard store and in a 2-shard inline store, and a cut of the latter.
struct loaded {
  micro_workload w;
  std::unique_ptr<tessel::store> single;
  std::unique_ptr<tessel::sharded_store> sharded;
  std::optional<tessel::sharded_snapshot> cut;
  std::string failure;

  explicit loaded(std::size_t size) : w(make_micro_workload(key_kind::random16, size)) {
    auto s = tessel::store::open(tessel::options{});
    auto sh = tessel::sharded_store::open(tessel::options{}, {shard_count, tessel::routing::whole_key, 1});
    if (!s || !sh) {
      failure = "opening the stores failed";
      return;
    }
    single = std::move(*s);
    sharded = std::move(*sh);
    for (std::size_t i = 0; i < w.load.size(); ++i) {
      if (!single->put(w.load.bytes(i), tessel::as_bytes(w.value)) ||
          !sharded->put(w.load.bytes(i), tessel::as_bytes(w.value))) {
        failure = "loading failed";
        return;
      }
    }
    auto c = sharded->snapshot();
    if (!c) {
      failure = c.error().to_string();
      return;
    }
    cut.emplace(std::move(*c));
  }
};

/// A fixture built once per size, by whichever benchmark thread comes first.
template <class Fixture>
Fixture& cached(std::size_t size) {
  static std::mutex mutex;
  static std::map<std::size_t, std::unique_ptr<Fixture>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[size];
  if (!slot) slot = std::make_unique<Fixture>(size);
  return *slot;
}

loaded& fixture(std::size_t size) { return cached<loaded>(size); }

template <class Get>
void bench_get(benchmark::State& state, Get&& get) {
  loaded& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.failure.empty()) return state.SkipWithError(f.failure.c_str());
  const key_set& keys = f.w.probes;
  std::size_t i = 0;
  std::size_t missing = 0;
  for (auto _ : state) {
    missing += !get(f, keys.bytes(i));
    if (++i == keys.size()) i = 0;
  }
  if (missing != 0) return state.SkipWithError("a loaded key is missing");
  add_latency_counters(state, keys, [&](tessel::key_view k) { benchmark::DoNotOptimize(get(f, k)); });
}

void bm_get_single(benchmark::State& state) {
  bench_get(state, [](loaded& f, tessel::key_view k) { return f.single->get(k).has_value(); });
}

void bm_get_inline(benchmark::State& state) {
  bench_get(state, [](loaded& f, tessel::key_view k) { return f.sharded->get(k).has_value(); });
}

void bm_read(benchmark::State& state) {
  loaded& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.failure.empty()) return state.SkipWithError(f.failure.c_str());
  const key_set& keys = f.w.probes;
  // Each thread starts at its own place in the probe order.
  std::size_t i =
      static_cast<std::size_t>(state.thread_index()) * keys.size() / static_cast<std::size_t>(state.threads());
  std::size_t missing = 0;
  for (auto _ : state) {
    missing += !f.cut->contains(keys.bytes(i));
    if (++i == keys.size()) i = 0;
  }
  if (missing != 0) state.SkipWithError("a loaded key is missing from the cut");
  state.SetItemsProcessed(state.iterations());
}

/// A 2-shard worker-mode store, one per size, loaded like the others.
struct worker_fixture {
  micro_workload w;
  std::unique_ptr<tessel::sharded_store> store;
  std::string failure;
  explicit worker_fixture(std::size_t size) : w(make_micro_workload(key_kind::random16, size)) {
    tessel::shard_options so{shard_count, tessel::routing::whole_key, 1};
    so.mode = tessel::shard_mode::workers;
    auto s = tessel::sharded_store::open(tessel::options{}, so);
    if (!s) {
      failure = s.error().to_string();
      return;
    }
    store = std::move(*s);
    std::vector<std::future<tessel::result<void>>> pending;
    for (std::size_t i = 0; i < w.load.size(); ++i) {
      pending.push_back(store->put_async(w.load.bytes(i), tessel::as_bytes(w.value)));
      if (pending.size() == 4096 || i + 1 == w.load.size()) {
        for (auto& p : pending) {
          if (!p.get()) failure = "loading failed";
        }
        pending.clear();
      }
    }
  }
};

worker_fixture& workers(std::size_t size) { return cached<worker_fixture>(size); }

void bm_worker_put(benchmark::State& state) {
  worker_fixture& f = workers(static_cast<std::size_t>(state.range(0)));
  if (!f.failure.empty()) return state.SkipWithError(f.failure.c_str());
  const key_set& keys = f.w.probes;
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * keys.size() / 2;
  for (auto _ : state) {
    if (auto r = f.store->put(keys.bytes(i), tessel::as_bytes(f.w.other_value)); !r) {
      return state.SkipWithError(r.error().to_string().c_str());
    }
    if (++i == keys.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    add_latency_counters(state, keys, [&](tessel::key_view k) { (void)f.store->put(k, tessel::as_bytes(f.w.value)); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const std::size_t n : micro_sizes()) {
    const auto size = static_cast<std::int64_t>(n);
    benchmark::RegisterBenchmark("shard/get/single", bm_get_single)->Arg(size);
    benchmark::RegisterBenchmark("shard/get/inline", bm_get_inline)->Arg(size);
    // Reads of a cut take no lock: 1, 2, 4, ... threads up to this machine's cores show how they scale.
    auto* read = benchmark::RegisterBenchmark("shard/read", bm_read)->Arg(size)->UseRealTime();
    for (unsigned t = 1; t <= std::max(2U, std::thread::hardware_concurrency()); t *= 2)
      read->Threads(static_cast<int>(t));
    benchmark::RegisterBenchmark("shard/worker_put", bm_worker_put)->Arg(size)->Threads(1)->Threads(2)->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
