// How long the checkpoint policy's commits hold an mmap store's writer (docs/benchmarks.md §Checkpoint
// stalls): a stream of overwrites of random present keys, each put timed alone, while the policy commits
// every `checkpoint_log_bytes` of log -- on the store's checkpointer thread (background:1, the default) or
// on the writing thread (background:0). Counters: p50/p99/p99.9/p99.99/max of one put.
//
//   checkpoint/overwrites/background:B   1M keys of 100-byte values, durability none (so a put's own
//                                        fdatasync hides nothing), 3M puts, the default policy (64 MiB);
//                                        TESSEL_BENCH_SMOKE=1: 1000 keys, 20K puts, 64 KiB.
//
// The store lives in $TMPDIR (or /tmp), removed afterwards. One iteration per case: the figures are the
// samples, not Google Benchmark's loop timing.
//
// Thread safety: one benchmark at a time; the store's checkpointer is its own thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include "tessel/options.hpp"
#include "tessel/store.hpp"

#include "bench/support/latency_recorder.hpp"
#include "bench/support/micro_benchmarks.hpp"
#include "bench/support/micro_workload.hpp"
#include "bench/support/rng.hpp"

namespace {

using namespace tessel::bench;

constexpr std::size_t value_bytes = 100;

struct shape {
  std::size_t keys;
  std::size_t puts;
  std::uint64_t checkpoint_log_bytes;
};

shape stream_shape() {
  if (smoke_mode()) return {1000, 20'000, 64 << 10};
  return {1'000'000, 3'000'000, tessel::options{}.checkpoint_log_bytes};
}

std::string key_of(std::size_t i) {
  std::string k = "key";
  const std::string n = std::to_string(i);
  k.append(12 - n.size(), '0');
  k.append(n);
  return k;
}

/// A fresh directory under $TMPDIR, removed with the object.
struct scratch_dir {
  scratch_dir() {
    const char* tmp = std::getenv("TMPDIR");
    path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tessel-bench-stall-" +
           std::to_string(::getpid());
    std::filesystem::remove_all(path);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

void bm_overwrite_stream(benchmark::State& state) {
  const bool background = state.range(0) != 0;
  const shape s = stream_shape();
  scratch_dir dir;
  tessel::options o;
  o.backend = tessel::backend::mmap;
  o.durability = tessel::durability::none;
  o.checkpoint_log_bytes = s.checkpoint_log_bytes;
  o.checkpoint_interval = std::chrono::milliseconds(0);
  o.checkpoints_on = background ? tessel::checkpoint_thread::background : tessel::checkpoint_thread::writer;
  auto opened = tessel::store::open(dir.path, o);
  if (!opened) {
    state.SkipWithError(opened.error().to_string().c_str());
    return;
  }
  std::unique_ptr<tessel::store> store = std::move(*opened);
  std::string value(value_bytes, 'v');
  for (std::size_t i = 0; i < s.keys; ++i) {
    if (!store->put_string(key_of(i), value)) {
      state.SkipWithError("loading the keys failed");
      return;
    }
  }
  if (!store->checkpoint()) {
    state.SkipWithError("the checkpoint after loading failed");
    return;
  }
  latency_recorder samples;
  samples.reserve(s.puts);
  rng random(42);
  std::size_t failures = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < s.puts; ++i) {
      const std::string key = key_of(random.below(s.keys));
      value[0] = static_cast<char>('a' + i % 26);
      samples.add(time_one([&] { failures += store->put_string(key, value).has_value() ? 0U : 1U; }));
    }
  }
  if (failures != 0) {
    state.SkipWithError("a put failed");
    return;
  }
  const latency_summary l = samples.summarize(micro_clock());
  state.counters["p50_ns"] = l.p50_ns;
  state.counters["p99_ns"] = l.p99_ns;
  state.counters["p999_ns"] = l.p999_ns;
  state.counters["max_ns"] = l.max_ns;
  state.counters["p9999_ns"] = l.p9999_ns;
  state.SetItemsProcessed(static_cast<std::int64_t>(s.puts));
}

}  // namespace

BENCHMARK(bm_overwrite_stream)
    ->Name("checkpoint/overwrites")
    ->ArgName("background")
    ->Arg(1)
    ->Arg(0)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
