// Micro-benchmarks of the versioned KV layer (include/tessel/kv_store.hpp) against the core store under it;
// the goals are the kv issue's (docs/benchmarks.md §Versioned KV):
//   kv/get/core, kv/get/versioned:  a get of the same present keys, in the same random order, from a plain dram
//                                   tessel::store and from a 1-shard kv_store (get(key, value) into a reused
//                                   buffer), the value read; versioned p50 <= 1.1x core p50; kv/get/engine
//                                   (the kv store's sharded_store::get) splits the difference;
//   kv/put/core, kv/set/versioned, kv/cas/versioned:  overwrite present keys: the core put, kv set, and
//                                   compare_and_set with the key's current version; cas p50 <= 1.2x put (kv
//                                   set and core put both reported);
//   kv/txn/one_set, kv/txn/single_shard, kv/txn/cross_shard:  on a 4-shard kv store routed by hash tag: one
//                                   set, a transaction of 4 sets whose keys share a tag (one shard), and one
//                                   of 4 sets on 4 shards; single-shard p50 <= 4x one set, cross-shard p50
//                                   <= 5 us;
//   kv/watch/delivery:              from just before set() on a watched key until a consumer thread waiting in
//                                   watch_stream::next() has the event; p50 <= 2 us, set()'s own latency beside.
// Every store is in memory (backend dram, durability none) in inline shard mode, loaded with 1M path keys
// (1000 with TESSEL_BENCH_SMOKE=1) and 16-byte values. After the run the goals go to stderr with PASS/MISS,
// and the exit code is 1 when a case got a wrong answer (so the ctest smoke run checks the answers too).
//
// Thread safety: the benchmarks run one at a time; the watch case adds its own consumer thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "tessel/kv_store.hpp"
#include "tessel/options.hpp"
#include "tessel/sharded_store.hpp"
#include "tessel/store.hpp"

#include "bench/support/access_order.hpp"
#include "bench/support/key_generator.hpp"
#include "bench/support/key_set.hpp"
#include "bench/support/latency_recorder.hpp"
#include "bench/support/micro_benchmarks.hpp"
#include "bench/support/micro_workload.hpp"
#include "bench/support/outcome.hpp"
#include "bench/support/rng.hpp"
#include "bench/support/sink.hpp"
#include "bench/support/system_info.hpp"
#include "common/platform.hpp"

namespace {

using namespace tessel::bench;
using tessel::kv_store;

// ---- Shapes ---------------------------------------------------------------------------------------------------

/// 1M keys: the size the kv goals are stated at (10M would only repeat the core store's figures).
std::vector<std::size_t> kv_sizes() {
  if (smoke_mode()) return {1000};
  return {1'000'000};
}

constexpr std::uint32_t txn_shards = 4;
constexpr std::size_t txn_ops = 4;
/// Keys the watch case cycles through, all under its watch's prefix.
constexpr std::size_t watch_key_count = 64;
/// A key where the kv layer keeps its meta record (docs/format.md §KV entries), put in the core store too.
constexpr std::string_view kv_meta_stand_in{"\xFF\xFFtessel/kv/meta", 16};
/// Watch samples: every iteration is one (its count is fixed, so min_time does not stretch the idle gaps).
constexpr benchmark::IterationCount watch_iterations = 20'000;
constexpr benchmark::IterationCount watch_smoke_iterations = 200;
/// A wait for the consumer longer than this is a lost event, not a slow one.
constexpr std::chrono::seconds delivery_deadline{5};

// Sub-streams of micro_seed for this file's orders, apart from micro_workload's (21..23).
constexpr std::uint64_t stream_point_order = 31;
constexpr std::uint64_t stream_group_order = 32;
constexpr std::uint64_t stream_cross_order = 33;

// ---- What main reports after the run -----------------------------------------------------------------------

struct figures {
  double mean_ns = 0;  ///< the timed loop's wall time per iteration (manual time for the watch case)
  double p50_ns = 0;
  double p99_ns = 0;
};

/// Figures of the cases that ran, by case name; the last run of a case (the one Google Benchmark reports) wins.
std::map<std::string, figures>& results() {
  static std::map<std::string, figures> by_case;
  return by_case;
}

/// Wrong answers and failed setups: main's exit code.
int failures = 0;

void fail(benchmark::State& state, const std::string& why) {
  ++failures;
  state.SkipWithError(why.c_str());
}

/// Wall time of a timed loop, for the mean in the goal table (Google Benchmark keeps its own to itself).
class loop_clock {
 public:
  [[nodiscard]] double ns_per_iteration(const benchmark::State& state) const {
    const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start_).count();
    return state.iterations() == 0 ? 0 : ns / static_cast<double>(state.iterations());
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

latency_summary add_percentiles(benchmark::State& state, latency_recorder& samples, const std::string& prefix = "") {
  const latency_summary s = samples.summarize(micro_clock());
  state.counters[prefix + "p50_ns"] = s.p50_ns;
  state.counters[prefix + "p99_ns"] = s.p99_ns;
  return s;
}

void record(const std::string& name, double mean_ns, const latency_summary& s) {
  results()[name] = {mean_ns, s.p50_ns, s.p99_ns};
}

/// How many single-op samples follow a timed loop over `keys` distinct items.
std::size_t sample_count(std::size_t items) { return items < micro_latency_samples ? items : micro_latency_samples; }

// ---- Stores --------------------------------------------------------------------------------------------------

tessel::options dram_options() {
  tessel::options o;
  o.backend = tessel::backend::dram;
  o.durability = tessel::durability::none;
  return o;
}

tessel::shard_options inline_shards(std::uint32_t count, tessel::routing rule) {
  tessel::shard_options s;
  s.shards = count;
  s.rule = rule;
  s.mode = tessel::shard_mode::inline_calls;
  return s;
}

/// Entries and live bytes per entry of a kv store's shards (header and version fields included).
void add_kv_counters(benchmark::State& state, kv_store& kv) {
  const tessel::sharded_store& engine = kv.engine();
  std::size_t live = 0;
  for (std::uint32_t i = 0; i < engine.shards(); ++i) live += engine.shard(i).memory().live_bytes;
  const auto keys = static_cast<double>(engine.len());
  state.counters["keys"] = keys;
  state.counters["bytes_per_key"] = static_cast<double>(live) / keys;
}

/// Entries and live bytes per entry of the plain store, to set beside the kv store's.
void add_core_counters(benchmark::State& state, const tessel::store& core) {
  const auto keys = static_cast<double>(core.len());
  state.counters["keys"] = keys;
  state.counters["bytes_per_key"] = static_cast<double>(core.memory().live_bytes) / keys;
}

/// The path keys of make_key_workload (the ones store_bench's path cases load), in random load order.
key_set path_keys(std::size_t size) {
  key_workload w = make_key_workload(key_kind::path, size, 0, 0, micro_seed);
  return std::move(w.present);
}

/// The same keys in a plain dram store and in a 1-shard kv store, for the point cases and the watch.
/// One shard, so both trees hold the same keys: the ratios are the kv layer's cost, not sharding's.
struct point_fixture {
  key_set order;  ///< every loaded key once, in a random order unlike the load's: what every point case replays
  /// The kv version of order[i]. `order` is a permutation, so this is one slot per key, read in access order.
  std::vector<std::uint64_t> versions;
  std::size_t write_next = 0;  ///< where set and cas go on: both keep `versions`
  key_set watched;             ///< /watch/kNN, in the kv store only
  std::string value = std::string(micro_value_size, 'v');
  std::string other_value = std::string(micro_value_size, 'w');
  std::unique_ptr<tessel::store> core;
  std::unique_ptr<kv_store> kv;
  std::string failure;

  explicit point_fixture(std::size_t size) {
    auto opened_core = tessel::store::open(dram_options());
    auto opened_kv = kv_store::open(dram_options(), inline_shards(1, tessel::routing::whole_key));
    if (!opened_core || !opened_kv) {
      failure = !opened_core ? "store::open: " + opened_core.error().to_string()
                             : "kv_store::open: " + opened_kv.error().to_string();
      return;
    }
    core = std::move(*opened_core);
    kv = std::move(*opened_kv);
    const key_set load = path_keys(size);
    for (std::size_t i = 0; i < load.size(); ++i) {
      if (auto r = core->put(load.bytes(i), tessel::as_bytes(value)); !r) {
        failure = "core load: " + r.error().to_string();
        return;
      }
      if (auto r = kv->set(load[i], value); !r || *r != 1) {
        failure =
            "kv load of " + std::string(load[i]) + ": " + (r ? "version " + std::to_string(*r) : r.error().to_string());
        return;
      }
    }
    rng shuffle = rng::derived(micro_seed, stream_point_order);
    order = load.gather(random_distinct(load.size(), load.size(), shuffle));
    versions.assign(order.size(), 1);
    for (std::size_t i = 0; i < watch_key_count; ++i) {
      watched.push_back("/watch/k" + std::to_string(i));
      if (auto s = kv->set(watched[i], value); !s) {
        failure = "watch keys: " + s.error().to_string();
        return;
      }
      // The core store holds every key the kv store holds, so both trees have one shape. It matters: the
      // point keys all share "/workloads/app-", and a key outside that prefix (these, or the kv layer's
      // meta record) adds levels at the top of the tree, which cuts how many lookups a core overlaps --
      // about 1.5x on the throughput of core gets, nothing on a single get's latency.
      if (auto s = core->put(tessel::as_bytes(watched[i]), tessel::as_bytes(value)); !s) {
        failure = "watch keys: " + s.error().to_string();
        return;
      }
    }
    if (auto s = core->put(tessel::as_bytes(kv_meta_stand_in), tessel::as_bytes(value)); !s) {
      failure = "meta stand-in: " + s.error().to_string();
      return;
    }
  }
};

/// A 4-shard kv store routed by hash tag, loaded with the same path keys, plus the transactions' keys.
struct txn_fixture {
  key_set single;  ///< groups of 4 keys sharing a hash tag (/acct/{gN}/a..d), group after group in access order
  key_set cross;   ///< groups of 4 keys on the 4 shards (/xfer/{tN}/v), group after group in access order
  std::size_t single_next = 0;
  std::size_t cross_next = 0;
  std::size_t one_set_next = 0;
  std::string value = std::string(micro_value_size, 'v');
  std::string other_value = std::string(micro_value_size, 'w');
  std::unique_ptr<kv_store> kv;
  std::string failure;

  explicit txn_fixture(std::size_t size) {
    auto opened = kv_store::open(dram_options(), inline_shards(txn_shards, tessel::routing::hash_tag));
    if (!opened) {
      failure = "kv_store::open: " + opened.error().to_string();
      return;
    }
    kv = std::move(*opened);
    const key_set load = path_keys(size);
    for (std::size_t i = 0; i < load.size(); ++i) {
      if (auto r = kv->set(load[i], value); !r) {
        failure = "kv load: " + r.error().to_string();
        return;
      }
    }
    // A group per 100 keys: enough that the groups cycle through memory like the point keys do.
    const std::size_t groups = size / 100 > 64 ? size / 100 : 64;
    const tessel::sharded_store& engine = kv->engine();

    key_set tagged;
    for (std::size_t g = 0; g < groups; ++g) {
      const std::string tag = "/acct/{g" + std::to_string(g) + "}/";
      for (const char leaf : {'a', 'b', 'c', 'd'}) tagged.push_back(tag + leaf);
      for (std::size_t k = 1; k < txn_ops; ++k) {
        if (engine.shard_of(tagged.bytes(g * txn_ops + k)) != engine.shard_of(tagged.bytes(g * txn_ops))) {
          failure = "hash_tag routing put " + std::string(tagged[g * txn_ops + k]) + " on another shard than " +
                    std::string(tagged[g * txn_ops]);
          return;
        }
      }
    }
    // One key per tag, sorted into buckets by shard until each shard has a key for every group.
    std::vector<key_set> by_shard(txn_shards);
    for (std::size_t n = 0, full = 0; full < txn_shards; ++n) {
      const std::string key = "/xfer/{t" + std::to_string(n) + "}/v";
      key_set& bucket = by_shard[engine.shard_of(tessel::as_bytes(key))];
      if (bucket.size() == groups) continue;
      bucket.push_back(key);
      if (bucket.size() == groups) ++full;
    }
    key_set spread;
    for (std::size_t g = 0; g < groups; ++g) {
      for (const key_set& bucket : by_shard) spread.push_back(bucket[g]);
    }

    rng group_order = rng::derived(micro_seed, stream_group_order);
    single = tagged.gather(group_indices(random_distinct(groups, groups, group_order)));
    rng cross_order = rng::derived(micro_seed, stream_cross_order);
    cross = spread.gather(group_indices(random_distinct(groups, groups, cross_order)));
    for (const key_set* keys : {&single, &cross}) {
      for (std::size_t i = 0; i < keys->size(); ++i) {
        if (auto r = kv->set((*keys)[i], value); !r) {
          failure = "transaction keys: " + r.error().to_string();
          return;
        }
      }
    }
  }

  /// The key indices of groups `order`, four per group.
  static std::vector<std::uint32_t> group_indices(const std::vector<std::uint32_t>& order) {
    std::vector<std::uint32_t> out;
    out.reserve(order.size() * txn_ops);
    for (const std::uint32_t g : order) {
      for (std::uint32_t k = 0; k < txn_ops; ++k) out.push_back(g * static_cast<std::uint32_t>(txn_ops) + k);
    }
    return out;
  }
};

/// A fixture per size, built on first use and kept (a load takes seconds); benchmarks run on one thread.
template <class Fixture>
Fixture* fixture_for(benchmark::State& state) {
  static std::map<std::size_t, std::unique_ptr<Fixture>> cache;
  const auto size = static_cast<std::size_t>(state.range(0));
  auto& slot = cache[size];
  if (!slot) slot = std::make_unique<Fixture>(size);
  if (!slot->failure.empty()) {
    fail(state, slot->failure);
    return nullptr;
  }
  return slot.get();
}

// ---- Point operations ----------------------------------------------------------------------------------------

/// A get case over the point keys: `get(i)` reads order[i] and says what it found (a wrong size counts as
/// not found); the value's size, first and last byte are read, in the loop and in the samples alike.
template <class Get>
void bench_point_get(benchmark::State& state, const point_fixture& f, const std::string& name, Get&& get) {
  const std::size_t keys = f.order.size();
  cycle next(keys);
  const loop_clock clock{};
  for (auto _ : state) {
    const lookup r = get(next.next());
    if (!r.found) [[unlikely]] {
      fail(state, name + ": a present key was not found whole");
      return;
    }
    benchmark::DoNotOptimize(touch(r.data, r.size));
  }
  const double mean = clock.ns_per_iteration(state);
  state.SetItemsProcessed(state.iterations());
  latency_recorder samples;
  samples.reserve(sample_count(keys));
  cycle pick(keys);
  for (std::size_t n = 0; n < sample_count(keys); ++n) {
    const std::size_t i = pick.next();
    samples.add(time_one([&] {
      const lookup r = get(i);
      do_not_optimize(touch(r.data, r.size));
    }));
  }
  record(name, mean, add_percentiles(state, samples));
}

void bm_get_core(benchmark::State& state) {
  point_fixture* f = fixture_for<point_fixture>(state);
  if (f == nullptr) return;
  bench_point_get(state, *f, "get/core", [&](std::size_t i) {
    const auto r = f->core->get(f->order.bytes(i));
    return r ? lookup{r->data(), r->size(), r->size() == micro_value_size} : lookup{};
  });
  add_core_counters(state, *f->core);
}

/// Not a goal: the kv store's own sharded_store::get (inline mode, no lock) of the same keys, the stored entry
/// read (header included). Between get/core and this: the bigger entries and the router; between this and
/// get/versioned: the kv layer (key check, the shard's lock, header decode, copy, seq).
void bm_get_engine(benchmark::State& state) {
  point_fixture* f = fixture_for<point_fixture>(state);
  if (f == nullptr) return;
  const tessel::sharded_store& engine = f->kv->engine();
  bench_point_get(state, *f, "get/engine", [&](std::size_t i) {
    const auto r = engine.get(f->order.bytes(i));
    return r ? lookup{r->data(), r->size(), r->size() > micro_value_size} : lookup{};
  });
  add_kv_counters(state, *f->kv);
}

void bm_get_versioned(benchmark::State& state) {
  point_fixture* f = fixture_for<point_fixture>(state);
  if (f == nullptr) return;
  std::string value;  // reused: what the goal measures
  bench_point_get(state, *f, "get/versioned", [&](std::size_t i) {
    const auto r = f->kv->get(f->order[i], value);
    const auto* data = reinterpret_cast<const std::byte*>(value.data());
    return r ? lookup{data, value.size(), r->version != 0 && value.size() == micro_value_size} : lookup{};
  });
  add_kv_counters(state, *f->kv);
}

void bm_put_core(benchmark::State& state) {
  point_fixture* f = fixture_for<point_fixture>(state);
  if (f == nullptr) return;
  const key_set& keys = f->order;
  const tessel::value_view value = tessel::as_bytes(f->other_value);
  cycle next(keys.size());
  const loop_clock clock{};
  for (auto _ : state) {
    if (auto r = f->core->put(keys.bytes(next.next()), value); !r) [[unlikely]] {
      fail(state, "core put: " + r.error().to_string());
      return;
    }
  }
  const double mean = clock.ns_per_iteration(state);
  state.SetItemsProcessed(state.iterations());
  latency_recorder samples;
  samples.reserve(sample_count(keys.size()));
  for (std::size_t i = 0; i < sample_count(keys.size()); ++i) {
    const tessel::key_view key = keys.bytes(next.next());
    samples.add(time_one([&] { do_not_optimize(f->core->put(key, value).has_value()); }));
  }
  record("put/core", mean, add_percentiles(state, samples));
  add_core_counters(state, *f->core);
}

/// kv set (cas = false) or compare_and_set with the key's current version (cas = true), over the point keys
/// in order. Both check the new version is the old one + 1 and keep it for the next visit of the key.
void bench_kv_write(benchmark::State& state, bool cas) {
  point_fixture* f = fixture_for<point_fixture>(state);
  if (f == nullptr) return;
  const key_set& keys = f->order;
  const std::string_view value = f->other_value;
  const auto write = [&](std::size_t i) {
    return cas ? f->kv->compare_and_set(keys[i], f->versions[i], value) : f->kv->set(keys[i], value);
  };
  const auto advance = [&] {
    const std::size_t i = f->write_next;
    f->write_next = i + 1 == keys.size() ? 0 : i + 1;
    return i;
  };
  const char* what = cas ? "kv compare_and_set: " : "kv set: ";
  const loop_clock clock{};
  for (auto _ : state) {
    const std::size_t i = advance();
    const auto r = write(i);
    if (!r || *r != f->versions[i] + 1) [[unlikely]] {
      fail(state, what + (r ? "version " + std::to_string(*r) + " after " + std::to_string(f->versions[i])
                            : r.error().to_string()));
      return;
    }
    f->versions[i] = *r;
  }
  const double mean = clock.ns_per_iteration(state);
  state.SetItemsProcessed(state.iterations());
  latency_recorder samples;
  samples.reserve(sample_count(keys.size()));
  for (std::size_t n = 0; n < sample_count(keys.size()); ++n) {
    const std::size_t i = advance();
    std::uint64_t version = 0;
    samples.add(time_one([&] {
      const auto r = write(i);
      version = r ? *r : 0;
      do_not_optimize(version);
    }));
    if (version != f->versions[i] + 1) [[unlikely]] {
      fail(state, what + std::string("a timed write did not give the next version"));
      return;
    }
    f->versions[i] = version;
  }
  record(cas ? "cas/versioned" : "set/versioned", mean, add_percentiles(state, samples));
  add_kv_counters(state, *f->kv);
}

void bm_set_versioned(benchmark::State& state) { bench_kv_write(state, false); }
void bm_cas_versioned(benchmark::State& state) { bench_kv_write(state, true); }

// ---- Transactions --------------------------------------------------------------------------------------------

void bm_txn_one_set(benchmark::State& state) {
  txn_fixture* f = fixture_for<txn_fixture>(state);
  if (f == nullptr) return;
  // The single-shard transactions' keys, one at a time: the put a 4-set transaction is compared with.
  const key_set& keys = f->single;
  const auto advance = [&] {
    const std::size_t i = f->one_set_next;
    f->one_set_next = i + 1 == keys.size() ? 0 : i + 1;
    return i;
  };
  const loop_clock clock{};
  for (auto _ : state) {
    if (auto r = f->kv->set(keys[advance()], f->other_value); !r || *r < 2) [[unlikely]] {
      fail(state, r ? "kv set: version " + std::to_string(*r) + " of a key set before" : r.error().to_string());
      return;
    }
  }
  const double mean = clock.ns_per_iteration(state);
  state.SetItemsProcessed(state.iterations());
  latency_recorder samples;
  samples.reserve(sample_count(keys.size()));
  for (std::size_t n = 0; n < sample_count(keys.size()); ++n) {
    const std::string_view key = keys[advance()];
    samples.add(time_one([&] { do_not_optimize(f->kv->set(key, f->other_value).has_value()); }));
  }
  record("txn/one_set", mean, add_percentiles(state, samples));
  add_kv_counters(state, *f->kv);
}

/// Transactions of 4 sets over consecutive groups of `keys`, from `next_group` on.
void bench_txn(benchmark::State& state, txn_fixture& f, const key_set& keys, std::size_t& next_group,
               const std::string& name) {
  const std::size_t groups = keys.size() / txn_ops;
  std::vector<tessel::kv_op> ops;
  for (std::size_t k = 0; k < txn_ops; ++k) ops.push_back(tessel::kv_op::set(std::string(), f.other_value));
  // Assigning into the ops' strings reuses their memory: the harness allocates nothing per transaction.
  const auto fill = [&] {
    const std::size_t g = next_group;
    next_group = g + 1 == groups ? 0 : g + 1;
    for (std::size_t k = 0; k < txn_ops; ++k) ops[k].key.assign(keys[g * txn_ops + k]);
  };
  std::uint64_t last_seq = 0;
  const auto right = [&](const tessel::result<tessel::kv_txn_result>& r) {
    if (!r || r->seq <= last_seq || r->versions.size() != txn_ops) return false;
    for (const std::uint64_t v : r->versions) {
      if (v < 2) return false;  // every key was set at load, so each set makes version 2 or more
    }
    last_seq = r->seq;
    return true;
  };
  const loop_clock clock{};
  for (auto _ : state) {
    fill();
    const auto r = f.kv->transaction(ops);
    if (!right(r)) [[unlikely]] {
      fail(state, "transaction: " + (r ? std::string("a wrong result") : r.error().to_string()));
      return;
    }
  }
  const double mean = clock.ns_per_iteration(state);
  state.SetItemsProcessed(state.iterations());
  latency_recorder samples;
  samples.reserve(sample_count(groups));
  for (std::size_t n = 0; n < sample_count(groups); ++n) {
    fill();
    std::optional<tessel::result<tessel::kv_txn_result>> r;
    samples.add(time_one([&] {
      r.emplace(f.kv->transaction(ops));
      do_not_optimize(*r);
    }));
    if (!right(*r)) [[unlikely]] {
      fail(state, "a timed transaction gave a wrong result");
      return;
    }
  }
  record(name, mean, add_percentiles(state, samples));
  state.counters["shards_touched"] = name == "txn/cross_shard" ? static_cast<double>(txn_shards) : 1.0;
  add_kv_counters(state, *f.kv);
}

void bm_txn_single_shard(benchmark::State& state) {
  txn_fixture* f = fixture_for<txn_fixture>(state);
  if (f != nullptr) bench_txn(state, *f, f->single, f->single_next, "txn/single_shard");
}

void bm_txn_cross_shard(benchmark::State& state) {
  txn_fixture* f = fixture_for<txn_fixture>(state);
  if (f != nullptr) bench_txn(state, *f, f->cross, f->cross_next, "txn/cross_shard");
}

// ---- Watch delivery ------------------------------------------------------------------------------------------

/// What the consumer thread hands the writer. `entered` = n says: n events taken, and the consumer is calling
/// next() for the one after; its release store publishes `arrival` and `last` of event n.
struct watch_channel {
  std::atomic<std::uint64_t> entered{0};
  std::uint64_t arrival = 0;  ///< fenced counter right after next() returned event n
  tessel::kv_event last;
  std::string error;  ///< next() failed before the stream was closed
};

void consume(tessel::watch_stream& stream, watch_channel& ch) {
  for (std::uint64_t taken = 0;; ++taken) {
    ch.entered.store(taken, std::memory_order_release);
    auto e = stream.next();
    const std::uint64_t now = tessel::fenced_cycles_end();
    if (!e) {
      // aborted is how close() ends the stream; anything else is a failure the writer reports.
      if (e.error().code() != tessel::errc::aborted) ch.error = e.error().to_string();
      ch.entered.store(~std::uint64_t{0}, std::memory_order_release);
      return;
    }
    ch.arrival = now;
    ch.last = std::move(*e);
  }
}

enum class wait_outcome : std::uint8_t { ready, consumer_ended, timed_out };

/// Waits until the consumer has taken `n` events, gives up after delivery_deadline. Spins a little, then
/// yields: when the scheduler puts both threads on one core (a busy host), a spinning writer would hold off
/// the very consumer whose arrival time is being measured.
wait_outcome await_entered(const watch_channel& ch, std::uint64_t n) {
  constexpr std::uint32_t spins_before_yield = 256;
  const auto give_up = std::chrono::steady_clock::now() + delivery_deadline;
  for (std::uint32_t spins = 1;; ++spins) {
    const std::uint64_t seen = ch.entered.load(std::memory_order_acquire);
    if (seen == n) return wait_outcome::ready;
    if (seen == ~std::uint64_t{0}) return wait_outcome::consumer_ended;
    if (spins < spins_before_yield) {
      tessel::cpu_relax();
      continue;
    }
    std::this_thread::yield();
    if (spins % 256 == 0 && std::chrono::steady_clock::now() > give_up) return wait_outcome::timed_out;
  }
}

/// Why a wait failed. ch.error is read only once the consumer has ended (its release store publishes it).
std::string wait_failure(const watch_channel& ch, wait_outcome outcome, const char* waiting_for) {
  if (outcome == wait_outcome::timed_out) {
    return std::string(waiting_for) + ": nothing within " + std::to_string(delivery_deadline.count()) + " s";
  }
  return std::string(waiting_for) + ": the stream ended" + (ch.error.empty() ? "" : " (" + ch.error + ")");
}

/// Keeps the writer's core busy (as a writer with work to do would) while the consumer settles.
void spin_cycles(std::uint64_t cycles) {
  const std::uint64_t until = tessel::fenced_cycles_begin() + cycles;
  while (tessel::fenced_cycles_begin() < until) tessel::cpu_relax();
}

/// range(1) is the gap in microseconds between the consumer re-entering next() and the next set(): 0 sets at
/// once (the consumer may not be waiting yet), 100 lets it settle into whatever wait next() does. range(2)
/// is how long next() polls before sleeping (watch_options::spin): 50 us, the default, so a 100 us gap finds
/// the consumer asleep; 1000 us, a consumer with a core to itself, still polling when the set comes.
void bm_watch_delivery(benchmark::State& state) {
  point_fixture* f = fixture_for<point_fixture>(state);
  if (f == nullptr) return;
  const std::int64_t gap_us = state.range(1);
  const std::int64_t spin_us = state.range(2);
  const auto gap = static_cast<std::uint64_t>(static_cast<double>(gap_us) * 1000.0 * micro_clock().ghz());
  tessel::watch_options wo;
  wo.spin = std::chrono::microseconds(spin_us);
  auto stream = f->kv->watch("/watch/*", wo);
  if (!stream) return fail(state, "watch: " + stream.error().to_string());
  watch_channel ch;
  std::thread consumer([&] { consume(**stream, ch); });

  latency_recorder delivery;
  latency_recorder set_cost;
  delivery.reserve(static_cast<std::size_t>(state.max_iterations));
  set_cost.reserve(static_cast<std::size_t>(state.max_iterations));
  std::size_t skewed = 0;
  std::uint64_t n = 0;
  for (auto _ : state) {
    if (const wait_outcome w = await_entered(ch, n); w != wait_outcome::ready) {
      fail(state, wait_failure(ch, w, "the consumer's return to next()"));
      break;
    }
    spin_cycles(gap);
    const std::string_view key = f->watched[n % f->watched.size()];
    const std::uint64_t start = tessel::fenced_cycles_begin();
    const auto r = f->kv->set(key, f->other_value);
    const std::uint64_t set_end = tessel::fenced_cycles_end();
    if (!r) {
      fail(state, "kv set: " + r.error().to_string());
      break;
    }
    if (const wait_outcome w = await_entered(ch, n + 1); w != wait_outcome::ready) {
      fail(state, wait_failure(ch, w, "the event of a set"));
      break;
    }
    ++n;
    if (ch.last.type != tessel::kv_event_type::updated || ch.last.key != key || ch.last.version != *r ||
        ch.last.value != f->other_value) {
      fail(state, "the event does not describe the set (key " + ch.last.key + ", version " +
                      std::to_string(ch.last.version) + ")");
      break;
    }
    // Two cores' counters: equal on an invariant, synchronised TSC (context tessel_invariant_tsc); a
    // negative difference is counted, not recorded.
    std::uint64_t took = 0;
    if (ch.arrival >= start) {
      took = ch.arrival - start;
    } else {
      ++skewed;
    }
    delivery.add(took);
    set_cost.add(set_end - start);
    state.SetIterationTime(micro_clock().to_ns(static_cast<double>(took)) * 1e-9);
  }
  (*stream)->close();
  consumer.join();
  if (state.error_occurred()) return;
  state.SetItemsProcessed(state.iterations());
  const latency_summary d = add_percentiles(state, delivery);
  const latency_summary s = add_percentiles(state, set_cost, "set_");
  state.counters["clock_skewed"] = static_cast<double>(skewed);
  const std::string label = "gap_us:" + std::to_string(gap_us) + "/spin_us:" + std::to_string(spin_us);
  record("watch/" + label, d.mean_ns, d);
  record("watch/set/" + label, s.mean_ns, s);
}

// ---- Context and goals ---------------------------------------------------------------------------------------

void add_kv_context() {
  benchmark::AddCustomContext("tessel_subject", "tessel::kv_store (versioned KV layer) against tessel::store");
  benchmark::AddCustomContext("tessel_backend", "dram, durability none, shard_mode inline_calls");
  benchmark::AddCustomContext("tessel_stores",
                              "point and watch cases: tessel::store + 1-shard kv_store, same keys; txn cases: "
                              "4-shard kv_store routed by hash_tag");
  benchmark::AddCustomContext("tessel_build_type", build_type() + (optimized_build() ? "" : " (NOT optimized)"));
  benchmark::AddCustomContext("tessel_huge_pages", "requested; THP " + transparent_huge_pages_mode());
  benchmark::AddCustomContext("tessel_key_kinds",
                              "path (/workloads/app-NNNNNN/instances/iN/<state>); txn /acct/{gN}/a..d (one tag) "
                              "and /xfer/{tN}/v (4 shards); watch /watch/kN under /watch/*");
  benchmark::AddCustomContext("tessel_value_size", std::to_string(micro_value_size));
  benchmark::AddCustomContext("tessel_smoke", smoke_mode() ? "yes (TESSEL_BENCH_SMOKE=1: tiny sizes)" : "no");
  benchmark::AddCustomContext("tessel_tsc_ghz", std::to_string(micro_clock().ghz()));
  benchmark::AddCustomContext("tessel_timer_overhead_ns", std::to_string(micro_clock().overhead_ns()));
  benchmark::AddCustomContext("tessel_invariant_tsc", has_invariant_tsc() ? "yes" : "no");
  benchmark::AddCustomContext("tessel_cpus", std::to_string(std::thread::hardware_concurrency()));
  benchmark::AddCustomContext("tessel_load_average", load_average());
}

const figures* find_result(const std::string& name) {
  const auto it = results().find(name);
  return it == results().end() ? nullptr : &it->second;
}

void ratio_goal(const char* label, const std::string& measured, const std::string& base, double goal) {
  const figures* m = find_result(measured);
  const figures* b = find_result(base);
  if (m == nullptr || b == nullptr || b->p50_ns <= 0 || b->mean_ns <= 0) {
    std::fprintf(stderr, "  %-44s not run\n", label);
    return;
  }
  const double ratio = m->p50_ns / b->p50_ns;
  std::fprintf(stderr, "  %-44s p50 %8.0f / %8.0f ns = %5.2fx  mean %5.2fx  goal <= %.1fx  %s\n", label, m->p50_ns,
               b->p50_ns, ratio, m->mean_ns / b->mean_ns, goal, ratio <= goal ? "PASS" : "MISS");
}

void latency_goal(const char* label, const std::string& measured, double goal_ns) {
  const figures* m = find_result(measured);
  if (m == nullptr) {
    std::fprintf(stderr, "  %-44s not run\n", label);
    return;
  }
  std::fprintf(stderr, "  %-44s p50 %8.0f ns  p99 %8.0f ns  mean %8.0f ns  goal p50 <= %.0f ns  %s\n", label, m->p50_ns,
               m->p99_ns, m->mean_ns, goal_ns, m->p50_ns <= goal_ns ? "PASS" : "MISS");
}

/// The goals from the figures of this run (p50: fenced single-op samples; mean: the timed loops).
void print_goals() {
  std::fflush(stdout);
  std::fprintf(stderr, "\nkv goals%s:\n", smoke_mode() ? " (smoke sizes: not figures to quote)" : "");
  ratio_goal("versioned get / core get", "get/versioned", "get/core", 1.1);
  ratio_goal("compare_and_set / kv set", "cas/versioned", "set/versioned", 1.2);
  ratio_goal("compare_and_set / core put", "cas/versioned", "put/core", 1.2);
  ratio_goal("single-shard 4-set transaction / kv set", "txn/single_shard", "txn/one_set", 4.0);
  latency_goal("cross-shard 4-set transaction", "txn/cross_shard", 5000);
  latency_goal("watch delivery, consumer asleep (gap 100us)", "watch/gap_us:100/spin_us:50", 2000);
  latency_goal("watch delivery, consumer polling (spin 1ms)", "watch/gap_us:100/spin_us:1000", 2000);
  latency_goal("watch delivery, back to back (gap 0)", "watch/gap_us:0/spin_us:50", 2000);
  for (const char* label : {"gap_us:100/spin_us:50", "gap_us:100/spin_us:1000"}) {
    if (const figures* set = find_result(std::string("watch/set/") + label)) {
      std::fprintf(stderr, "  %-44s p50 %8.0f ns  p99 %8.0f ns  (inside the delivery)\n",
                   (std::string("set() on the watched key, ") + label).c_str(), set->p50_ns, set->p99_ns);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_kv_context();
  const std::int64_t watch_count = smoke_mode() ? watch_smoke_iterations : watch_iterations;
  // Grouped by fixture, so each store is loaded once and a fixture's cases run together.
  for (const std::size_t n : kv_sizes()) {
    const auto size = static_cast<std::int64_t>(n);
    const std::pair<const char*, void (*)(benchmark::State&)> point_cases[] = {
        {"kv/get/core", bm_get_core}, {"kv/get/engine", bm_get_engine},       {"kv/get/versioned", bm_get_versioned},
        {"kv/put/core", bm_put_core}, {"kv/set/versioned", bm_set_versioned}, {"kv/cas/versioned", bm_cas_versioned},
    };
    for (const auto& [name, run] : point_cases) benchmark::RegisterBenchmark(name, run)->Arg(size)->ArgName("keys");
    benchmark::RegisterBenchmark("kv/watch/delivery", bm_watch_delivery)
        ->Args({size, 100, 50})
        ->Args({size, 100, 1000})
        ->Args({size, 0, 50})
        ->ArgNames({"keys", "gap_us", "spin_us"})
        ->Iterations(watch_count)
        ->UseManualTime();
    const std::pair<const char*, void (*)(benchmark::State&)> txn_cases[] = {
        {"kv/txn/one_set", bm_txn_one_set},
        {"kv/txn/single_shard", bm_txn_single_shard},
        {"kv/txn/cross_shard", bm_txn_cross_shard},
    };
    for (const auto& [name, run] : txn_cases) benchmark::RegisterBenchmark(name, run)->Arg(size)->ArgName("keys");
  }
  benchmark::RunSpecifiedBenchmarks();
  print_goals();
  benchmark::Shutdown();
  return failures == 0 ? 0 : 1;
}
