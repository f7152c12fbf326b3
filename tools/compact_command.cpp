// `tessel compact PATH [--json]`: rebuilds a durable store's tree in key order (store::compact), so ordered
// scans read the file forward again after random writes scattered its leaves, and reports the time and the
// space before and after. A sharded store's directory compacts every shard. docs/tools.md §compact.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tessel/store.hpp"

#include "tools/command_registry.hpp"
#include "tools/progress_meter.hpp"
#include "tools/shard_directories.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {
namespace {

/// One store's compaction, reported to `out`.
int compact_of(const std::string& path, bool json, std::ostream& out) {
  options opts;
  opts.backend = backend_of(path);
  opts.mode = open_mode::open_existing;
  auto opened = store::open(path, opts);
  if (!opened) return fail("compact", opened.error());
  store& s = **opened;
  const memory_usage before = s.memory();
  const auto start = std::chrono::steady_clock::now();
  progress_meter meter("compacting", json);
  auto compacted = s.compact([&](std::uint64_t entries) { meter.update(entries, 0); });
  meter.finish();
  if (!compacted) return fail("compact", compacted.error());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const memory_usage after = s.memory();
  if (auto ok = s.close(); !ok) return fail("compact", ok.error());
  if (json) {
    out << nlohmann::json{{"path", path},
                          {"keys", s.len()},
                          {"seconds", seconds},
                          {"live_bytes_before", before.live_bytes},
                          {"live_bytes_after", after.live_bytes},
                          {"free_bytes_after", after.free_bytes},
                          {"committed_bytes_after", after.committed_bytes}}
               .dump(2)
        << '\n';
    return 0;
  }
  out << "store            " << path << '\n'
      << "keys             " << s.len() << '\n'
      << "seconds          " << seconds << '\n'
      << "live bytes       " << before.live_bytes << " -> " << after.live_bytes << '\n'
      << "free bytes       " << after.free_bytes << " (the old tree's blocks, reused by later writes)\n";
  return 0;
}

run_function setup(CLI::App& app) { return setup_store_command(app, "compact", compact_of); }

const command_registration registration{
    {"compact", "rebuild a store's tree in key order, so ordered scans read the file forward", &setup}};

}  // namespace
}  // namespace tessel::tools
