// Output of `tessel bench`: see bench_report.hpp.
#include "tools/bench_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/bench_goals.hpp"

namespace tessel::tools {
namespace {

using json = nlohmann::ordered_json;

constexpr double mib = 1024.0 * 1024.0;

// printf-style formatting into a std::string (the attribute lets the compiler check every call's arguments).
__attribute__((format(printf, 1, 2))) std::string format(const char* fmt, ...) {
  char buffer[256];
  va_list args;
  va_start(args, fmt);
  const int n = std::vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  return n < 0 ? std::string() : std::string(buffer, std::min(static_cast<std::size_t>(n), sizeof(buffer) - 1));
}

// Nanoseconds: one decimal below 10 us, whole numbers above; "-" for a figure that does not apply.
std::string ns(double v) {
  if (std::isnan(v)) return "-";
  return v < 10'000 ? format("%.1f", v) : format("%.0f", v);
}

std::string rate(double per_s) {
  if (per_s >= 1e6) return format("%.2fM", per_s / 1e6);
  if (per_s >= 1e3) return format("%.1fk", per_s / 1e3);
  return format("%.0f", per_s);
}

std::string_view unit(bench_phase phase) {
  switch (phase) {
    case bench_phase::prefix_scan:
    case bench_phase::range_scan: return "scan";
    case bench_phase::full_scan: return "key";
    case bench_phase::compact: return "store";
    default: return "op";
  }
}

json number_or_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

template <class T>
json optional_or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

void print_context(std::ostream& out, const bench_config& config, const bench_context& c) {
  out << "tessel bench: " << config.keys << " keys, " << config.ops << " ops per phase, " << config.scan_ops
      << " prefix scans and as many range scans, " << config.full_scan_passes << " full-scan passes, "
      << config.value_size << "-byte values, seed " << config.seed << '\n';
  out << "cpu:        " << c.cpu_model << " (" << c.online_cpus << " online, "
      << (c.pinned_cpu ? "pinned to cpu " + std::to_string(*c.pinned_cpu) : std::string("not pinned"))
      << "), load average " << c.load_average << '\n';
  out << "build:      " << c.build_type << ", " << c.compiler
      << (c.optimized_build ? "" : "  ** not an optimized build: these numbers do not count **") << '\n';
  out << "timer:      TSC " << format("%.3f", c.tsc_ghz) << " GHz"
      << (c.invariant_tsc ? " (invariant)" : " (NOT invariant)") << "; fenced begin/end costs "
      << format("%.1f", c.timer_overhead_ns) << " ns (" << c.timer_overhead_cycles
      << " cycles), included in every sample, not subtracted\n";
  out << "huge pages: THP " << (c.transparent_huge_pages.empty() ? "unknown" : c.transparent_huge_pages) << ", "
      << (c.huge_pages_requested ? "requested" : "not requested") << " by the store\n";
}

// Bytes per key beyond the key and value bytes themselves: what the structure adds.
double overhead_per_key(const memory_result& m, const kind_result& r, std::size_t value_size) {
  const double keys = static_cast<double>(r.keys ? r.keys : 1);
  return static_cast<double>(m.bytes) / keys - r.mean_key_bytes - static_cast<double>(value_size);
}

void print_memory(std::ostream& out, const kind_result& r, std::size_t value_size) {
  const auto per_key = [&](std::size_t bytes) {
    return format("%.1f", static_cast<double>(bytes) / static_cast<double>(r.keys ? r.keys : 1));
  };
  bool first = true;
  for (const memory_result& m : r.memory) {
    out << (first ? "  memory         " : "                 ") << format("%-19s", m.structure.c_str());
    first = false;
    if (m.measured_by == "region") {
      out << "live " << per_key(m.bytes) << " B/key (" << format("%.1f", overhead_per_key(m, r, value_size))
          << " beyond key + value)";
      if (m.leaf_bytes) out << ", leaves " << per_key(*m.leaf_bytes);
      if (m.committed_bytes) out << ", committed " << per_key(*m.committed_bytes) << " B/key";
      if (m.free_bytes) out << ", free " << per_key(*m.free_bytes) << " B/key";
      if (m.huge_page_bytes && m.committed_bytes) {
        out << ", on huge pages " << format("%.1f", static_cast<double>(*m.huge_page_bytes) / mib) << " of "
            << format("%.1f", static_cast<double>(*m.committed_bytes) / mib) << " MiB";
      }
    } else {
      out << "heap " << per_key(m.bytes) << " B/key (" << format("%.1f", overhead_per_key(m, r, value_size))
          << " beyond key + value; " << m.measured_by << ")";
    }
    out << '\n';
  }
}

void print_goals(std::ostream& out, const kind_result& r) {
  out << "  goals\n";
  std::string unjudged;  // why the info rows have no verdict: the same for all of them
  for (const goal_result& g : r.goals) {
    if (g.value && !g.judged) unjudged = g.note;
    const std::optional<bool> pass = g.pass();
    const char* verdict = pass ? (*pass ? "PASS" : "MISS") : (g.value ? "info" : "n/a ");
    out << "    " << verdict << "  " << format("%-52s", g.description.c_str());
    if (g.value) {
      out << format("%10.2f", *g.value) << "  (goal " << (g.at_most ? "<= " : ">= ") << format("%g", g.target) << ")";
    } else {
      out << "  " << g.note;
    }
    out << '\n';
  }
  if (!unjudged.empty()) out << "    (info: " << unjudged << ")\n";
}

json phase_json(const phase_result& p) {
  json j;
  j["phase"] = to_string(p.phase);
  j["structure"] = p.structure;
  j["available"] = p.available;
  if (!p.available) return j;
  j["unit"] = unit(p.phase);
  j["ops"] = p.ops;
  j["items"] = p.items;
  j["items_per_op"] = p.items_per_op();
  j["mean_ns"] = number_or_null(p.latency.mean_ns);
  j["p50_ns"] = number_or_null(p.latency.p50_ns);
  j["p99_ns"] = number_or_null(p.latency.p99_ns);
  j["p999_ns"] = number_or_null(p.latency.p999_ns);
  j["max_ns"] = number_or_null(p.latency.max_ns);
  j["wall_ns"] = p.wall_ns;
  j[p.phase == bench_phase::full_scan ? "keys_per_s" : "ops_per_s"] = p.rate_per_s();
  j["mismatches"] = p.mismatches;
  return j;
}

json memory_json(const memory_result& m, const kind_result& r, std::size_t value_size) {
  const std::size_t keys = r.keys;
  json j;
  j["structure"] = m.structure;
  j["measured_by"] = m.measured_by;
  j["bytes"] = m.bytes;
  j["bytes_per_key"] = keys ? static_cast<double>(m.bytes) / static_cast<double>(keys) : 0.0;
  j["overhead_bytes_per_key"] = overhead_per_key(m, r, value_size);
  j["leaf_bytes"] = optional_or_null(m.leaf_bytes);
  j["free_bytes"] = optional_or_null(m.free_bytes);
  j["committed_bytes"] = optional_or_null(m.committed_bytes);
  j["committed_bytes_per_key"] = m.committed_bytes && keys
                                     ? json(static_cast<double>(*m.committed_bytes) / static_cast<double>(keys))
                                     : json(nullptr);
  j["huge_page_bytes"] = optional_or_null(m.huge_page_bytes);
  return j;
}

json goal_json(const goal_result& g) {
  json j;
  j["name"] = g.name;
  j["description"] = g.description;
  j["value"] = optional_or_null(g.value);
  j["target"] = g.target;
  j["comparison"] = g.at_most ? "<=" : ">=";
  j["pass"] = optional_or_null(g.pass());
  if (!g.note.empty()) j["note"] = g.note;
  return j;
}

}  // namespace

void print_human(std::ostream& out, const bench_config& config, const bench_context& context,
                 const std::vector<kind_result>& results) {
  print_context(out, config, context);
  for (const kind_result& r : results) {
    out << '\n'
        << bench::to_string(r.kind) << " keys: " << r.keys << " present (" << format("%.1f", r.mean_key_bytes)
        << " B mean), " << r.absent << " absent\n";
    out << format("  %-14s %-19s %9s %9s %-4s %9s %9s %9s %9s %10s %10s\n", "phase", "structure", "ops", "keys/op",
                  "per", "mean ns", "p50 ns", "p99 ns", "p99.9 ns", "max ns", "per s");
    for (const phase_result& p : r.phases) {
      const std::string phase(to_string(p.phase));
      if (!p.available) {
        out << format("  %-14s %-19s %9s\n", phase.c_str(), p.structure.c_str(), "n/a");
        continue;
      }
      out << format("  %-14s %-19s %9zu %9.1f %-4s %9s %9s %9s %9s %10s %10s\n", phase.c_str(), p.structure.c_str(),
                    p.ops, p.items_per_op(), std::string(unit(p.phase)).c_str(), ns(p.latency.mean_ns).c_str(),
                    ns(p.latency.p50_ns).c_str(), ns(p.latency.p99_ns).c_str(), ns(p.latency.p999_ns).c_str(),
                    ns(p.latency.max_ns).c_str(), rate(p.rate_per_s()).c_str());
    }
    print_memory(out, r, config.value_size);
    print_goals(out, r);
    for (const std::string& problem : r.problems) out << "  PROBLEM: " << problem << '\n';
  }
}

void print_json(std::ostream& out, const bench_config& config, const bench_context& c,
                const std::vector<kind_result>& results) {
  json doc;
  doc["tool"] = "tessel bench";
  doc["schema_version"] = 1;
  json& cfg = doc["config"];
  cfg["keys"] = config.keys;
  cfg["ops"] = config.ops;
  cfg["scan_ops"] = config.scan_ops;
  cfg["full_scan_passes"] = config.full_scan_passes;
  cfg["value_size"] = config.value_size;
  cfg["seed"] = config.seed;
  cfg["peers"] = config.peers;
  json kinds = json::array();
  for (const bench::key_kind k : config.key_kinds) kinds.push_back(bench::to_string(k));
  cfg["key_kinds"] = kinds;

  json& ctx = doc["context"];
  ctx["cpu_model"] = c.cpu_model;
  ctx["invariant_tsc"] = c.invariant_tsc;
  ctx["online_cpus"] = c.online_cpus;
  ctx["pinned_cpu"] = optional_or_null(c.pinned_cpu);
  ctx["load_average"] = c.load_average;
  ctx["build_type"] = c.build_type;
  ctx["optimized_build"] = c.optimized_build;
  ctx["compiler"] = c.compiler;
  ctx["tsc_ghz"] = c.tsc_ghz;
  ctx["timer_overhead_cycles"] = c.timer_overhead_cycles;
  ctx["timer_overhead_ns"] = c.timer_overhead_ns;
  ctx["transparent_huge_pages"] = c.transparent_huge_pages;
  ctx["huge_pages_requested"] = c.huge_pages_requested;

  json runs = json::array();
  for (const kind_result& r : results) {
    json run;
    run["key_kind"] = bench::to_string(r.kind);
    run["keys"] = r.keys;
    run["absent"] = r.absent;
    run["mean_key_bytes"] = r.mean_key_bytes;
    json phases = json::array();
    for (const phase_result& p : r.phases) phases.push_back(phase_json(p));
    run["phases"] = std::move(phases);
    json memory = json::array();
    for (const memory_result& m : r.memory) memory.push_back(memory_json(m, r, config.value_size));
    run["memory"] = std::move(memory);
    json goals = json::array();
    for (const goal_result& g : r.goals) goals.push_back(goal_json(g));
    run["goals"] = std::move(goals);
    run["problems"] = r.problems;
    runs.push_back(std::move(run));
  }
  doc["results"] = std::move(runs);
  out << doc.dump(2) << '\n';
}

}  // namespace tessel::tools
