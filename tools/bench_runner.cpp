// The phase runner: see bench_runner.hpp. One template over the subjects of bench_subjects.hpp.
//
// Hot path: the loops in point_phase, scan_phase and full_scan_phase. Each operation sits alone between
// fenced_cycles_begin() and fenced_cycles_end(); its key is fetched and its outcome checked outside that window.
#include "tools/bench_runner.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <limits>
#include <string>

#include <unistd.h>

#include "bench/support/latency_recorder.hpp"
#include "bench/support/sink.hpp"
#include "tools/bench_subjects.hpp"

namespace tessel::tools {
namespace {

using steady = std::chrono::steady_clock;

enum class outcome : std::uint8_t { expected, mismatch, failed };

// Progress on an interactive terminal only: a 10M-key run takes minutes, but logs and pipes stay clean.
void progress(std::string_view structure, bench::key_kind kind, bench_phase phase) {
  static const bool interactive = isatty(STDERR_FILENO) != 0;
  if (interactive) {
    std::cerr << "tessel bench: " << bench::to_string(kind) << ": " << structure << ": " << to_string(phase) << "...\n";
  }
}

double elapsed_ns(steady::time_point start) {
  return std::chrono::duration<double, std::nano>(steady::now() - start).count();
}

tl::unexpected<error> phase_error(std::string_view structure, bench_phase phase, const error& e) {
  return make_error(e.code(), std::string(structure) + " " + std::string(to_string(phase)) + ": " + e.to_string());
}

phase_result unavailable(bench_phase phase, std::string_view structure) {
  phase_result p;
  p.phase = phase;
  p.structure = structure;
  p.available = false;
  return p;
}

// Times `run(key, failure)` once per key of `keys`.
template <class Run>
result<phase_result> point_phase(bench_phase phase, std::string_view structure, const bench::key_set& keys,
                                 bench::latency_recorder& recorder, const bench::tsc_clock& clock, Run&& run) {
  phase_result p;
  p.phase = phase;
  p.structure = structure;
  recorder.clear();
  error failure;
  const steady::time_point start = steady::now();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string_view key = keys[i];
    outcome o = outcome::expected;
    recorder.add(bench::time_one([&] {
      o = run(key, failure);
      bench::do_not_optimize(o);
    }));
    if (o != outcome::expected) [[unlikely]] {
      if (o == outcome::failed) return phase_error(structure, phase, failure);
      ++p.mismatches;
    }
  }
  p.wall_ns = elapsed_ns(start);
  p.ops = keys.size();
  p.items = keys.size();
  p.latency = recorder.summarize(clock);
  return p;
}

// `scans` scans, each timed alone: scan(i) runs the i-th and returns its outcome.
template <class Scan>
phase_result scan_phase(bench_phase phase, std::string_view structure, std::size_t scans,
                        bench::latency_recorder& recorder, const bench::tsc_clock& clock, Scan&& scan) {
  phase_result p;
  p.phase = phase;
  p.structure = structure;
  recorder.clear();
  const steady::time_point start = steady::now();
  for (std::size_t i = 0; i < scans; ++i) {
    scan_outcome o;
    recorder.add(bench::time_one([&] {
      o = scan(i);
      bench::do_not_optimize(o.checksum);
    }));
    p.items += o.count;
  }
  p.wall_ns = elapsed_ns(start);
  p.ops = scans;
  p.latency = recorder.summarize(clock);
  return p;
}

// Whole passes are timed (timing each step would time the timer); the summary is per key.
template <class Subject>
phase_result full_scan_phase(const Subject& s, std::size_t passes, std::size_t expected,
                             bench::latency_recorder& recorder, const bench::tsc_clock& clock) {
  phase_result p;
  p.phase = bench_phase::full_scan;
  p.structure = Subject::name;
  recorder.clear();
  const steady::time_point start = steady::now();
  for (std::size_t pass = 0; pass < passes; ++pass) {
    scan_outcome o;
    recorder.add(bench::time_one([&] {
      o = s.full_scan();
      bench::do_not_optimize(o.checksum);
    }));
    p.items += o.count;
    if (o.count != expected) ++p.mismatches;
  }
  p.wall_ns = elapsed_ns(start);
  p.ops = passes;
  const bench::latency_summary per_pass = recorder.summarize(clock);
  const double keys = expected == 0 ? 1 : static_cast<double>(expected);
  p.latency.count = per_pass.count;
  p.latency.mean_ns = per_pass.mean_ns / keys;
  p.latency.p50_ns = per_pass.p50_ns / keys;
  p.latency.p99_ns = std::numeric_limits<double>::quiet_NaN();
  p.latency.p999_ns = std::numeric_limits<double>::quiet_NaN();
  p.latency.max_ns = per_pass.max_ns / keys;
  return p;
}

/// One compaction, timed as a single operation.
template <class Subject>
result<phase_result> compact_phase(Subject& s, bench::latency_recorder& recorder, const bench::tsc_clock& clock) {
  phase_result p;
  p.phase = bench_phase::compact;
  p.structure = Subject::name;
  recorder.clear();
  result<void> done;
  const steady::time_point start = steady::now();
  recorder.add(bench::time_one([&] { done = s.compact(); }));
  p.wall_ns = elapsed_ns(start);
  if (!done)
    return make_error(done.error().code(), std::string(Subject::name) + " compact: " + done.error().to_string());
  p.ops = 1;
  p.items = 1;
  p.latency = recorder.summarize(clock);
  return p;
}

template <class Subject>
result<void> put_all(Subject& s, const bench::key_set& keys, std::string_view value, bench_phase phase,
                     bench::latency_recorder& recorder, const bench::tsc_clock& clock, subject_run& out) {
  auto p = point_phase(phase, Subject::name, keys, recorder, clock, [&](std::string_view key, error& failure) {
    auto r = s.put(key, value);
    if (!r) [[unlikely]] {
      failure = std::move(r.error());
      return outcome::failed;
    }
    return outcome::expected;
  });
  if (!p) return tl::unexpected(p.error());
  out.phases.push_back(std::move(*p));
  return {};
}

template <class Subject>
result<subject_run> run_subject(const bench_workload& w, const bench_config& config, const bench::tsc_clock& clock) {
  subject_run out;
  const std::string_view name = Subject::name;
  const memory_baseline before = memory_baseline::now();
  auto created = Subject::create(config.huge_pages);
  if (!created) return make_error(created.error().code(), std::string(name) + " open: " + created.error().to_string());
  Subject& s = *created;

  bench::latency_recorder recorder;
  recorder.reserve(std::max(w.load.size(), std::max(config.ops, config.scan_ops)));

  progress(name, w.kind, bench_phase::load);
  if (auto r = put_all(s, w.load, w.value, bench_phase::load, recorder, clock, out); !r)
    return tl::unexpected(r.error());
  out.memory = s.memory(before);

  if (config.runs(bench_phase::compact)) {
    progress(name, w.kind, bench_phase::compact);
    if constexpr (requires(Subject & x) { x.compact(); }) {
      auto p = compact_phase(s, recorder, clock);
      if (!p) return tl::unexpected(p.error());
      out.phases.push_back(std::move(*p));
    } else {
      out.phases.push_back(unavailable(bench_phase::compact, name));
    }
  }

  const std::size_t value_size = w.value.size();
  if (config.runs(bench_phase::get)) {
    progress(name, w.kind, bench_phase::get);
    auto p = point_phase(bench_phase::get, name, w.get, recorder, clock, [&](std::string_view key, error&) {
      const lookup r = s.get(key);
      bench::do_not_optimize(bench::touch(r.data, r.size));
      return r.found && r.size == value_size ? outcome::expected : outcome::mismatch;
    });
    if (!p) return tl::unexpected(p.error());
    out.phases.push_back(std::move(*p));
  }
  if (config.runs(bench_phase::get_missing)) {
    progress(name, w.kind, bench_phase::get_missing);
    auto p =
        point_phase(bench_phase::get_missing, name, w.get_missing, recorder, clock, [&](std::string_view key, error&) {
          const lookup r = s.get(key);
          bench::do_not_optimize(bench::touch(r.data, r.size));
          return r.found ? outcome::mismatch : outcome::expected;
        });
    if (!p) return tl::unexpected(p.error());
    out.phases.push_back(std::move(*p));
  }
  if (config.runs(bench_phase::prefix_scan)) {
    progress(name, w.kind, bench_phase::prefix_scan);
    if constexpr (Subject::ordered) {
      out.phases.push_back(scan_phase(bench_phase::prefix_scan, name, w.prefixes.size(), recorder, clock,
                                      [&](std::size_t i) { return s.prefix_scan(w.prefixes[i]); }));
    } else {
      out.phases.push_back(unavailable(bench_phase::prefix_scan, name));
    }
  }
  if (config.runs(bench_phase::range_scan)) {
    progress(name, w.kind, bench_phase::range_scan);
    if constexpr (Subject::ordered) {
      out.phases.push_back(scan_phase(bench_phase::range_scan, name, w.range_starts.size(), recorder, clock,
                                      [&](std::size_t i) { return s.range_scan(w.range_starts[i], w.range_ends[i]); }));
    } else {
      out.phases.push_back(unavailable(bench_phase::range_scan, name));
    }
  }
  if (config.runs(bench_phase::full_scan)) {
    progress(name, w.kind, bench_phase::full_scan);
    if constexpr (Subject::ordered) {
      out.phases.push_back(full_scan_phase(s, config.full_scan_passes, w.keys(), recorder, clock));
    } else {
      out.phases.push_back(unavailable(bench_phase::full_scan, name));
    }
  }
  if (config.runs(bench_phase::put_overwrite)) {
    progress(name, w.kind, bench_phase::put_overwrite);
    if (auto r = put_all(s, w.put_overwrite, w.overwrite_value, bench_phase::put_overwrite, recorder, clock, out); !r) {
      return tl::unexpected(r.error());
    }
  }
  if (config.runs(bench_phase::put_insert)) {
    progress(name, w.kind, bench_phase::put_insert);
    if (auto r = put_all(s, w.put_insert, w.value, bench_phase::put_insert, recorder, clock, out); !r) {
      return tl::unexpected(r.error());
    }
  }
  if (config.runs(bench_phase::erase)) {
    progress(name, w.kind, bench_phase::erase);
    auto p = point_phase(bench_phase::erase, name, w.erase, recorder, clock, [&](std::string_view key, error& failure) {
      auto r = s.erase(key);
      if (!r) [[unlikely]] {
        failure = std::move(r.error());
        return outcome::failed;
      }
      return *r ? outcome::expected : outcome::mismatch;
    });
    if (!p) return tl::unexpected(p.error());
    out.phases.push_back(std::move(*p));
  }
  return out;
}

}  // namespace

result<subject_run> run_tessel(const bench_workload& w, const bench_config& config, const bench::tsc_clock& clock) {
  return run_subject<tessel_subject>(w, config, clock);
}

result<subject_run> run_std_map(const bench_workload& w, const bench_config& config, const bench::tsc_clock& clock) {
  return run_subject<std_map_subject>(w, config, clock);
}

result<subject_run> run_std_unordered_map(const bench_workload& w, const bench_config& config,
                                          const bench::tsc_clock& clock) {
  return run_subject<std_unordered_map_subject>(w, config, clock);
}

}  // namespace tessel::tools
