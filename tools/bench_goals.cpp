// Goals and cross-checks: see bench_goals.hpp.
#include "tools/bench_goals.hpp"

#include <sstream>
#include <utility>

#include "tools/bench_workload.hpp"

namespace tessel::tools {
namespace {

// A prefix scan counts toward the "~100 keys" goal only when its scans average this many keys: 2-byte
// prefixes of 10M random keys select ~150, which the range_scan phase's 100-key scans measure instead.
constexpr double prefix_goal_min_keys = 60;
constexpr double prefix_goal_max_keys = 140;
// The targets are the foundation issue's, set for random 16-byte keys with values of this size.
constexpr std::size_t goal_value_size = 16;

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

goal_result goal(std::string name, std::string description, double target, bool at_most) {
  goal_result g;
  g.name = std::move(name);
  g.description = std::move(description);
  g.target = target;
  g.at_most = at_most;
  return g;
}

// Mean nanoseconds over both put phases, weighted by their operation counts; nullopt when neither ran.
std::optional<double> put_mean_ns(const kind_result& r, std::string_view structure) {
  double total = 0;
  std::size_t ops = 0;
  for (const bench_phase phase : {bench_phase::put_overwrite, bench_phase::put_insert}) {
    if (const phase_result* p = find_phase(r, phase, structure); p != nullptr && p->available && p->ops > 0) {
      total += p->latency.mean_ns * static_cast<double>(p->ops);
      ops += p->ops;
    }
  }
  if (ops == 0) return std::nullopt;
  return total / static_cast<double>(ops);
}

// The ratio of two p50s, or a note naming what is missing.
void set_ratio(goal_result& g, const phase_result* num, const phase_result* den, std::string_view missing) {
  if (num == nullptr || den == nullptr || den->latency.p50_ns <= 0) {
    g.note = std::string(missing);
    return;
  }
  g.value = num->latency.p50_ns / den->latency.p50_ns;
}

}  // namespace

const phase_result* find_phase(const kind_result& r, bench_phase phase, std::string_view structure) {
  for (const phase_result& p : r.phases) {
    if (p.phase == phase && p.structure == structure) return &p;
  }
  return nullptr;
}

std::vector<goal_result> evaluate_goals(const kind_result& r, std::size_t value_size) {
  std::vector<goal_result> goals;
  const phase_result* get = find_phase(r, bench_phase::get, tessel_name);
  const std::string no_peer = "needs the std containers (run without --no-peers) and the get phase";

  goal_result vs_hash = goal("get_p50_vs_unordered_map", "get p50 / std::unordered_map get p50", 0.8, true);
  set_ratio(vs_hash, get, find_phase(r, bench_phase::get, std_unordered_map_name), no_peer);
  goals.push_back(std::move(vs_hash));

  goal_result vs_map = goal("get_p50_speedup_vs_map", "std::map get p50 / get p50", 3.0, false);
  set_ratio(vs_map, find_phase(r, bench_phase::get, std_map_name), get, no_peer);
  goals.push_back(std::move(vs_map));

  goal_result put = goal("put_speedup_vs_map", "std::map put mean / put mean (overwrite + insert)", 2.0, false);
  const std::optional<double> ours = put_mean_ns(r, tessel_name);
  const std::optional<double> theirs = put_mean_ns(r, std_map_name);
  if (ours && theirs && *ours > 0) {
    put.value = *theirs / *ours;
  } else {
    put.note = "needs std::map (run without --no-peers) and the put phase";
  }
  goals.push_back(std::move(put));

  goal_result bytes = goal("bytes_per_key", "live bytes per key (region)", 60.0, true);
  for (const memory_result& m : r.memory) {
    if (m.structure == tessel_name && r.keys > 0) {
      bytes.value = static_cast<double>(m.bytes) / static_cast<double>(r.keys);
    }
  }
  goals.push_back(std::move(bytes));

  goal_result scan = goal("full_scan_ns_per_key", "full scan ns per key (mean)", 30.0, true);
  if (const phase_result* p = find_phase(r, bench_phase::full_scan, tessel_name); p != nullptr) {
    scan.value = p->latency.mean_ns;
  } else {
    scan.note = "needs the full_scan phase";
  }
  goals.push_back(std::move(scan));

  goal_result prefix = goal("prefix_scan_100_p50_ns", "prefix scan of ~100 keys, p50 ns", 3000.0, true);
  if (const phase_result* p = find_phase(r, bench_phase::prefix_scan, tessel_name); p == nullptr) {
    prefix.note = "needs the prefix_scan phase";
  } else if (p->items_per_op() < prefix_goal_min_keys || p->items_per_op() > prefix_goal_max_keys) {
    prefix.note = "scans averaged " + fixed(p->items_per_op(), 1) + " keys; the goal is for ~100";
  } else {
    prefix.value = p->latency.p50_ns;
  }
  goals.push_back(std::move(prefix));

  goal_result range = goal("range_scan_100_p50_ns", "range scan of 100 keys, p50 ns", 3000.0, true);
  if (const phase_result* p = find_phase(r, bench_phase::range_scan, tessel_name); p == nullptr) {
    range.note = "needs the range_scan phase";
  } else if (r.keys <= range_keys) {
    range.note = "needs more than " + std::to_string(range_keys) + " keys";
  } else {
    range.value = p->latency.p50_ns;
  }
  goals.push_back(std::move(range));

  // Other workloads show their figures without a verdict: 43-byte path keys and their values alone take
  // 59 of the 60 bytes per key, and their longer leaves cost scans more lines per key.
  if (r.kind != bench::key_kind::random16 || value_size != goal_value_size) {
    for (goal_result& g : goals) {
      if (!g.value) continue;
      g.judged = false;
      g.note = "the target is set for random16 keys with " + std::to_string(goal_value_size) + "-byte values";
    }
  }
  return goals;
}

std::vector<std::string> check_results(const kind_result& r) {
  std::vector<std::string> problems;
  for (const phase_result& p : r.phases) {
    if (p.mismatches == 0) continue;
    std::string what;
    switch (p.phase) {
      case bench_phase::get: what = "present keys not found (or with a wrong value size)"; break;
      case bench_phase::get_missing: what = "absent keys found"; break;
      case bench_phase::erase: what = "erases of present keys reported the key absent"; break;
      case bench_phase::full_scan: what = "full-scan passes visited a key count other than the keys loaded"; break;
      default: what = "operations with a wrong outcome"; break;
    }
    problems.push_back(p.structure + " " + std::string(to_string(p.phase)) + ": " + std::to_string(p.mismatches) +
                       " of " + std::to_string(p.ops) + " " + what);
  }
  // The structures hold the same keys when they scan, so they must return the same number of them.
  // Every range holds range_keys keys when the set has more.
  if (const phase_result* p = find_phase(r, bench_phase::range_scan, tessel_name);
      p != nullptr && p->available && r.keys > range_keys && p->items != p->ops * range_keys) {
    problems.push_back("tessel range_scan visited " + std::to_string(p->items) + " keys in " + std::to_string(p->ops) +
                       " scans of " + std::to_string(range_keys));
  }
  for (const bench_phase phase : {bench_phase::prefix_scan, bench_phase::range_scan, bench_phase::full_scan}) {
    const phase_result* ours = find_phase(r, phase, tessel_name);
    const phase_result* theirs = find_phase(r, phase, std_map_name);
    if (ours != nullptr && theirs != nullptr && ours->items != theirs->items) {
      problems.push_back("tessel " + std::string(to_string(phase)) + " visited " + std::to_string(ours->items) +
                         " keys, std::map " + std::to_string(theirs->items));
    }
  }
  return problems;
}

}  // namespace tessel::tools
