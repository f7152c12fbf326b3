// `tessel bench`: option parsing, the run over key kinds and structures, and the report. See bench_command.hpp.
#include "tools/bench_command.hpp"

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <sched.h>
#include <unistd.h>

#include "bench/support/system_info.hpp"
#include "bench/support/tsc_clock.hpp"
#include "tools/bench_goals.hpp"
#include "tools/bench_report.hpp"
#include "tools/bench_runner.hpp"
#include "tools/bench_workload.hpp"
#include "tools/command_registry.hpp"
#include "tools/durable_bench.hpp"
#include "tools/recovery_bench.hpp"

namespace tessel::tools {
namespace {

constexpr std::size_t default_ops_cap = 1'000'000;
constexpr std::size_t default_scan_ops_cap = 100'000;
// Keys are indexed with 32 bits in the workload's access orders.
constexpr std::size_t max_total_keys = 0xFFFF'FFFFULL;

// What CLI11 binds; turned into a bench_config once parsing succeeded.
struct bench_options {
  bench_config config;
  std::string key_kind = "both";
  std::vector<std::string> phases;
  bool no_peers = false;
  bool compact = false;  // --compact: bench_phase::compact
  bool no_huge_pages = false;
  unsigned pin_cpu = 0;
  CLI::Option* pin_option = nullptr;
  bool durable = false;
  bool recovery = false;
  std::string dir = "tessel-bench-data";
  std::size_t puts = 2000;
  std::size_t data_mb = 1024;
  std::size_t log_mb = 100;
};

// A failure's exit code is its errc value; not_found (1) would read as a usage error, and in a benchmark a
// lost key is corruption anyway.
int exit_code(const error& e) {
  const int code = static_cast<int>(e.code());
  return code >= 2 ? code : static_cast<int>(errc::corruption);
}

result<void> pin_to_cpu(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return make_error(errc::invalid_argument, "cannot pin to cpu " + std::to_string(cpu));
  }
  return {};
}

bench_context gather_context(const bench_config& config, const bench::tsc_clock& clock) {
  bench_context c;
  c.cpu_model = bench::cpu_model();
  c.invariant_tsc = bench::has_invariant_tsc();
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  c.online_cpus = online > 0 ? static_cast<unsigned>(online) : 0;
  c.pinned_cpu = config.pin_cpu;
  c.load_average = bench::load_average();
  c.build_type = bench::build_type();
  c.optimized_build = bench::optimized_build();
  c.compiler = bench::compiler();
  c.tsc_ghz = clock.ghz();
  c.timer_overhead_cycles = clock.overhead_cycles();
  c.timer_overhead_ns = clock.overhead_ns();
  c.transparent_huge_pages = bench::transparent_huge_pages_mode();
  c.huge_pages_requested = config.huge_pages;
  return c;
}

result<void> append_run(kind_result& r, result<subject_run> run) {
  if (!run) return tl::unexpected(run.error());
  for (phase_result& p : run->phases) r.phases.push_back(std::move(p));
  r.memory.push_back(std::move(run->memory));
  return {};
}

// Phases are listed phase by phase, structures side by side, whatever order the runs came in.
void sort_phases(kind_result& r) {
  std::stable_sort(r.phases.begin(), r.phases.end(),
                   [](const phase_result& a, const phase_result& b) { return a.phase < b.phase; });
}

result<kind_result> run_kind(const bench_config& config, bench::key_kind kind, const bench::tsc_clock& clock) {
  kind_result r;
  r.kind = kind;
  // The workload lives for this key kind only; each structure is freed before the next is built.
  const bench_workload w = make_bench_workload(config, kind);
  r.keys = w.keys();
  r.absent = w.get_missing.size() > w.put_insert.size() ? w.get_missing.size() : w.put_insert.size();
  r.mean_key_bytes = w.mean_key_bytes();
  if (auto ok = append_run(r, run_tessel(w, config, clock)); !ok) return tl::unexpected(ok.error());
  if (config.peers) {
    if (auto ok = append_run(r, run_std_map(w, config, clock)); !ok) return tl::unexpected(ok.error());
    if (auto ok = append_run(r, run_std_unordered_map(w, config, clock)); !ok) return tl::unexpected(ok.error());
  }
  sort_phases(r);
  r.goals = evaluate_goals(r, config.value_size);
  r.problems = check_results(r);
  return r;
}

run_function setup(CLI::App& app) {
  auto o = std::make_shared<bench_options>();
  app.add_option("--keys", o->config.keys, "keys to load")
      ->check(CLI::Range(std::size_t{1}, max_total_keys / 2))
      ->capture_default_str();
  app.add_option("--ops", o->config.ops, "timed operations per phase (default: min(keys, 1000000))")
      ->check(CLI::Range(std::size_t{1}, max_total_keys / 2));
  app.add_option("--scan-ops", o->config.scan_ops,
                 "timed prefix scans, and as many range scans (default: min(ops, 100000))")
      ->check(CLI::Range(std::size_t{1}, max_total_keys / 2));
  app.add_flag("--compact", o->compact,
               "compact tessel's store after the load (store::compact, timed as phase compact): the phases after "
               "it read a tree in key order");
  app.add_option("--full-scan-passes", o->config.full_scan_passes, "full ordered scans to time")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
  app.add_option("--key-kind", o->key_kind, "random16, path or both")
      ->check(CLI::IsMember({"random16", "path", "both"}))
      ->capture_default_str();
  app.add_option("--value-size", o->config.value_size, "value bytes")
      ->check(CLI::Range(std::size_t{0}, std::size_t{65535}))
      ->capture_default_str();
  app.add_option("--seed", o->config.seed, "seed for keys and operation order")->capture_default_str();
  app.add_flag("--json", o->config.json, "print one JSON object instead of the table");
  app.add_flag("--no-peers", o->no_peers, "skip std::map and std::unordered_map");
  app.add_flag("--no-huge-pages", o->no_huge_pages, "open the store with options::huge_pages = false");
  o->pin_option = app.add_option("--pin-cpu", o->pin_cpu, "pin the benchmark thread to this cpu");
  std::vector<std::string> phase_names(bench_phase_option_names.begin(), bench_phase_option_names.end());
  app.add_option("--phases", o->phases,
                 "comma-separated phases (default: all): get,get_missing,put,erase,"
                 "prefix_scan,range_scan,full_scan; the load always runs")
      ->delimiter(',')
      ->check(CLI::IsMember(phase_names));

  app.add_flag("--durable", o->durable,
               "measure durable puts (log, sync) and mmap gets against LMDB and RocksDB instead");
  app.add_option("--dir", o->dir, "--durable: where the stores live (a subdirectory is made and removed)")
      ->capture_default_str();
  app.add_option("--puts", o->puts, "--durable: durable puts per subject")->capture_default_str();

  app.add_flag("--recovery", o->recovery, "measure open after kill -9 of a store of --data-mb with --log-mb of log");
  app.add_option("--data-mb", o->data_mb, "--recovery: tree size")->capture_default_str();
  app.add_option("--log-mb", o->log_mb, "--recovery: log written after the last commit")->capture_default_str();

  return [o] {
    if (o->recovery) {
      recovery_bench_config r;
      r.dir = o->dir;
      r.data_mb = o->data_mb;
      r.log_mb = o->log_mb;
      r.json = o->config.json;
      return run_recovery_bench(r);
    }
    if (o->durable) {
      durable_bench_config d;
      d.dir = o->dir;
      d.puts = o->puts;
      d.keys = o->config.keys;
      d.gets = o->config.ops != 0 ? o->config.ops : std::min<std::size_t>(o->config.keys, 200'000);
      d.value_size = o->config.value_size;
      d.seed = o->config.seed;
      d.json = o->config.json;
      d.peers = !o->no_peers;
      return run_durable_bench(d);
    }
    bench_config config = o->config;
    config.peers = !o->no_peers;
    config.huge_pages = !o->no_huge_pages;
    if (o->pin_option->count() > 0) config.pin_cpu = o->pin_cpu;
    if (o->key_kind == "both") {
      config.key_kinds = {bench::key_kind::random16, bench::key_kind::path};
    } else {
      config.key_kinds = {*bench::parse_key_kind(o->key_kind)};
    }
    const bool all = o->phases.empty();
    const auto wants = [&](std::string_view name) {
      return all || std::find(o->phases.begin(), o->phases.end(), name) != o->phases.end();
    };
    const auto set = [&](bench_phase p, bool on) { config.phases[static_cast<std::size_t>(p)] = on; };
    set(bench_phase::load, true);
    set(bench_phase::compact, o->compact);
    set(bench_phase::get, wants("get"));
    set(bench_phase::get_missing, wants("get_missing"));
    set(bench_phase::prefix_scan, wants("prefix_scan"));
    set(bench_phase::range_scan, wants("range_scan"));
    set(bench_phase::full_scan, wants("full_scan"));
    set(bench_phase::put_overwrite, wants("put"));
    set(bench_phase::put_insert, wants("put"));
    set(bench_phase::erase, wants("erase"));
    if (config.ops == 0) config.ops = std::min(config.keys, default_ops_cap);
    if (config.scan_ops == 0) config.scan_ops = std::min(config.ops, default_scan_ops_cap);
    return run_bench(std::move(config));
  };
}

const command_registration registration{
    {"bench", "measure a tessel store against std::map and std::unordered_map (docs/tools.md)", &setup}};

}  // namespace

int run_bench(bench_config config) {
  if (config.keys + config.ops > max_total_keys) {
    std::cerr << "tessel bench: keys + ops must stay below 2^32\n";
    return static_cast<int>(errc::invalid_argument);
  }
  if (config.pin_cpu) {
    if (auto pinned = pin_to_cpu(*config.pin_cpu); !pinned) {
      std::cerr << "tessel bench: " << pinned.error().to_string() << '\n';
      return exit_code(pinned.error());
    }
  }
  // Once per run: the TSC rate does not change on an invariant-TSC machine.
  const bench::tsc_clock clock = bench::tsc_clock::calibrate();
  const bench_context context = gather_context(config, clock);

  std::vector<kind_result> results;
  for (const bench::key_kind kind : config.key_kinds) {
    auto r = run_kind(config, kind, clock);
    if (!r) {
      std::cerr << "tessel bench: " << r.error().to_string() << '\n';
      return exit_code(r.error());
    }
    results.push_back(std::move(*r));
  }

  if (config.json) {
    print_json(std::cout, config, context, results);
  } else {
    print_human(std::cout, config, context, results);
  }
  bool wrong = false;
  for (const kind_result& r : results) {
    for (const std::string& problem : r.problems) {
      std::cerr << "tessel bench: " << bench::to_string(r.kind) << ": " << problem << '\n';
      wrong = true;
    }
  }
  return wrong ? static_cast<int>(errc::corruption) : 0;
}

}  // namespace tessel::tools
