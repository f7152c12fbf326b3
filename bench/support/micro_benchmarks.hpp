// The Google Benchmark cases both bench binaries run, written once over a fixture: get (present, missing),
// put (overwrite, insert), erase, prefix scan, range scan and full scan, for random16 and path keys at every
// size micro_sizes() gives. index_bench.cpp and store_bench.cpp only adapt their API to the fixture shape:
//
//   struct fixture {
//     fixture(key_kind, std::size_t);      // builds the tree: loads w.load in order
//     key_kind kind; std::size_t size; micro_workload w; range_bounds ranges;
//     std::string failure;                 // why the build failed; empty when it did not
//     lookup get(key_view) const;  result<void> put(key_view, value_view);  result<bool> erase(key_view);
//     scan_outcome prefix_scan(key_view) const;  scan_outcome range_scan(key_view, key_view) const;
//     <scanner> scanner() const;           // step() visits the next key in order, wrapping at the end
//     void add_counters(benchmark::State&) const;  // size, bytes/key, tree shape
//   };
//
// Rules (docs/benchmarks.md): random access order, never one hot key; the tree is built once per size; a
// benchmark that changes the tree puts it back (outside the timed loop) before returning.
//
// Thread safety: single-threaded benchmarks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <benchmark/benchmark.h>

#include "bench/support/key_generator.hpp"
#include "bench/support/latency_recorder.hpp"
#include "bench/support/micro_workload.hpp"
#include "bench/support/outcome.hpp"
#include "bench/support/sink.hpp"
#include "bench/support/system_info.hpp"
#include "bench/support/tsc_clock.hpp"

namespace tessel::bench {

/// Calibrated once per process, on first use.
inline const tsc_clock& micro_clock() {
  static const tsc_clock clock = tsc_clock::calibrate();
  return clock;
}

/// Single-operation samples taken after the timed loop (so they do not slow it): p50 and p99 counters.
inline constexpr std::size_t micro_latency_samples = 10'000;

template <class Op>
void add_latency_counters(benchmark::State& state, const key_set& keys, Op&& op) {
  const std::size_t n = std::min(micro_latency_samples, keys.size());
  latency_recorder recorder;
  recorder.reserve(n);
  cycle next(keys.size());
  for (std::size_t i = 0; i < n; ++i) {
    const key_view key = keys.bytes(next.next());
    recorder.add(time_one([&] { op(key); }));
  }
  const latency_summary s = recorder.summarize(micro_clock());
  state.counters["p50_ns"] = s.p50_ns;
  state.counters["p99_ns"] = s.p99_ns;
}

template <class Fixture>
void bench_get(benchmark::State& state, Fixture& f) {
  const key_set& keys = f.w.probes;
  cycle next(keys.size());
  for (auto _ : state) {
    const lookup r = f.get(keys.bytes(next.next()));
    if (!r.found) [[unlikely]] {
      state.SkipWithError("a present key was not found");
      break;
    }
    benchmark::DoNotOptimize(touch(r.data, r.size));
  }
  state.SetItemsProcessed(state.iterations());
  add_latency_counters(state, keys, [&](key_view key) {
    const lookup r = f.get(key);
    do_not_optimize(touch(r.data, r.size));
  });
  f.add_counters(state);
}

template <class Fixture>
void bench_get_missing(benchmark::State& state, Fixture& f) {
  const key_set& keys = f.w.misses;
  cycle next(keys.size());
  for (auto _ : state) {
    const lookup r = f.get(keys.bytes(next.next()));
    if (r.found) [[unlikely]] {
      state.SkipWithError("an absent key was found");
      break;
    }
    benchmark::DoNotOptimize(r.found);
  }
  state.SetItemsProcessed(state.iterations());
  add_latency_counters(state, keys, [&](key_view key) { do_not_optimize(f.get(key).found); });
  f.add_counters(state);
}

template <class Fixture>
void bench_put_overwrite(benchmark::State& state, Fixture& f) {
  const key_set& keys = f.w.probes;
  const value_view value = as_bytes(f.w.other_value);
  cycle next(keys.size());
  for (auto _ : state) {
    if (auto r = f.put(keys.bytes(next.next()), value); !r) [[unlikely]] {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  f.add_counters(state);
}

// Inserts keys from a pool of size / 10; when the pool is used up the timer pauses while they are erased
// again, so the tree stays between size and 1.1 * size however many iterations run.
template <class Fixture>
void bench_put_insert(benchmark::State& state, Fixture& f) {
  const key_set& keys = f.w.inserts;
  const value_view value = as_bytes(f.w.value);
  std::size_t used = 0;
  const auto undo = [&] {
    for (std::size_t i = 0; i < used; ++i) (void)f.erase(keys.bytes(i));
    used = 0;
  };
  for (auto _ : state) {
    if (used == keys.size()) [[unlikely]] {
      state.PauseTiming();
      undo();
      state.ResumeTiming();
    }
    if (auto r = f.put(keys.bytes(used++), value); !r) [[unlikely]] {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
  }
  undo();
  state.SetItemsProcessed(state.iterations());
  f.add_counters(state);
}

// Erases distinct present keys from a pool of size / 10, reinserting them (timer paused) when it is used up.
template <class Fixture>
void bench_erase(benchmark::State& state, Fixture& f) {
  const key_set& keys = f.w.erases;
  const value_view value = as_bytes(f.w.value);
  std::size_t used = 0;
  const auto undo = [&] {
    for (std::size_t i = 0; i < used; ++i) (void)f.put(keys.bytes(i), value);
    used = 0;
  };
  for (auto _ : state) {
    auto r = f.erase(keys.bytes(used++));
    if (!r || !*r) [[unlikely]] {
      state.SkipWithError(r ? "a present key was not erased" : r.error().to_string().c_str());
      break;
    }
    if (used == keys.size()) [[unlikely]] {
      state.PauseTiming();
      undo();
      state.ResumeTiming();
    }
  }
  undo();
  state.SetItemsProcessed(state.iterations());
  f.add_counters(state);
}

template <class Fixture>
void bench_prefix_scan(benchmark::State& state, Fixture& f) {
  const key_set& prefixes = f.w.prefixes;
  cycle next(prefixes.size());
  std::size_t keys = 0;
  for (auto _ : state) {
    const scan_outcome r = f.prefix_scan(prefixes.bytes(next.next()));
    keys += r.count;
    benchmark::DoNotOptimize(r.checksum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(keys));
  state.counters["keys_per_scan"] = benchmark::Counter(static_cast<double>(keys), benchmark::Counter::kAvgIterations);
  f.add_counters(state);
}

template <class Fixture>
void bench_range_scan(benchmark::State& state, Fixture& f) {
  const range_bounds& ranges = f.ranges;
  cycle next(ranges.starts.size());
  std::size_t keys = 0;
  for (auto _ : state) {
    const std::size_t i = next.next();
    const scan_outcome r = f.range_scan(ranges.starts.bytes(i), ranges.ends.bytes(i));
    keys += r.count;
    benchmark::DoNotOptimize(r.checksum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(keys));
  state.counters["keys_per_scan"] = benchmark::Counter(static_cast<double>(keys), benchmark::Counter::kAvgIterations);
  f.add_counters(state);
}

// One iteration is one key of an ordered walk that wraps around at the end: the time is per key.
template <class Fixture>
void bench_full_scan(benchmark::State& state, Fixture& f) {
  auto scanner = f.scanner();
  for (auto _ : state) benchmark::DoNotOptimize(scanner.step());
  state.SetItemsProcessed(state.iterations());
  f.add_counters(state);
}

/// Registers every case (or those named in `only`) for every key kind and size as
/// "<family>/<case>/<kind>/keys:<size>", grouped by (kind, size) so cached_fixture builds each tree once.
template <class Fixture>
void register_micro_benchmarks(const std::string& family, std::initializer_list<std::string_view> only = {}) {
  using body = void (*)(benchmark::State&, Fixture&);
  const std::pair<const char*, body> cases[] = {
      {"get", &bench_get<Fixture>},
      {"get_missing", &bench_get_missing<Fixture>},
      {"put_overwrite", &bench_put_overwrite<Fixture>},
      {"put_insert", &bench_put_insert<Fixture>},
      {"erase", &bench_erase<Fixture>},
      {"prefix_scan", &bench_prefix_scan<Fixture>},
      {"range_scan", &bench_range_scan<Fixture>},
      {"full_scan", &bench_full_scan<Fixture>},
  };
  for (const key_kind kind : {key_kind::random16, key_kind::path}) {
    for (const std::size_t size : micro_sizes()) {
      for (const auto& [name, run] : cases) {
        if (only.size() != 0 && std::find(only.begin(), only.end(), std::string_view(name)) == only.end()) continue;
        const std::string full = family + "/" + name + "/" + std::string(to_string(kind));
        benchmark::RegisterBenchmark(full.c_str(),
                                     [kind, size, run = run](benchmark::State& state) {
                                       Fixture& f = cached_fixture<Fixture>(kind, size);
                                       if (!f.failure.empty()) {
                                         state.SkipWithError(f.failure.c_str());
                                         return;
                                       }
                                       run(state, f);
                                     })
            ->Arg(static_cast<std::int64_t>(size))
            ->ArgName("keys");
      }
    }
  }
}

/// Context lines every bench binary prints (and writes into --benchmark_format=json).
inline void add_micro_context(const std::string& subject) {
  benchmark::AddCustomContext("tessel_subject", subject);
  benchmark::AddCustomContext("tessel_backend", "dram");
  benchmark::AddCustomContext("tessel_build_type", build_type() + (optimized_build() ? "" : " (NOT optimized)"));
  benchmark::AddCustomContext("tessel_huge_pages", "requested; THP " + transparent_huge_pages_mode());
  benchmark::AddCustomContext("tessel_key_kinds",
                              "random16 (16 random bytes), path (/workloads/app-NNNNNN/instances/iN/<state>)");
  benchmark::AddCustomContext("tessel_value_size", std::to_string(micro_value_size));
  benchmark::AddCustomContext("tessel_smoke", smoke_mode() ? "yes (TESSEL_BENCH_SMOKE=1: tiny sizes)" : "no");
  benchmark::AddCustomContext("tessel_tsc_ghz", std::to_string(micro_clock().ghz()));
  benchmark::AddCustomContext("tessel_timer_overhead_ns", std::to_string(micro_clock().overhead_ns()));
}

}  // namespace tessel::bench
