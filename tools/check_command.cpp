// `tessel check PATH`: verifies a durable store without writing to it (store/store_check.hpp) and prints what
// it found. Exit 0 when healthy, 3 (corruption) when anything is damaged. docs/tools.md §check.
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "store/store_check.hpp"
#include "tools/command_registry.hpp"
#include "tools/progress_meter.hpp"
#include "tools/shard_directories.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {
namespace {

/// One store's check, to `out`.
int check_of(const std::string& path, bool json, std::ostream& out) {
  progress_meter meter("checking", json);
  auto report = check_store(path, [&](std::uint64_t blocks) { meter.update(blocks, 0); });
  meter.finish();
  if (!report) return fail("check", report.error());
  const check_report& r = *report;
  if (json) {
    nlohmann::json j = {{"path", path},
                        {"healthy", r.problems.empty()},
                        {"problems", r.problems},
                        {"meta_slots", r.slots},
                        {"slot", r.slot},
                        {"generation", r.generation},
                        {"keys", r.key_count},
                        {"leaves", r.leaves},
                        {"inner_nodes", r.inner_nodes},
                        {"leaves_in_key_order", r.leaves_in_key_order},
                        {"block_bytes", r.block_bytes},
                        {"unreachable_bytes", r.unreachable_bytes},
                        {"recorded_free_bytes", r.recorded_free_bytes},
                        {"frontier", r.frontier},
                        {"file_size", r.file_size},
                        {"clean_close", r.clean_close},
                        {"log_records", r.log_records},
                        {"log_records_to_replay", r.log_records_to_replay},
                        {"log_torn_tail", r.log_torn_tail},
                        {"named_snapshots", r.named_snapshots},
                        {"named_only_blocks", r.named_only_blocks}};
    if (r.pool) {
      j["pool"] = {{"is_pmem", r.pool->is_pmem},
                   {"pool_bytes", r.pool->pool_bytes},
                   {"pmempool_check", r.pool->pmempool_result},
                   {"pmempool_messages", r.pool->pmempool_messages},
                   {"objects", r.pool->objects},
                   {"leaked_objects", r.pool->leaked_objects},
                   {"leaked_bytes", r.pool->leaked_bytes}};
    }
    out << j.dump(2) << '\n';
  } else {
    if (r.pool) {
      out << "libpmempool      " << r.pool->pmempool_result << '\n'
          << "commit           generation " << r.generation << (r.clean_close ? ", clean close" : "") << '\n'
          << "tree             " << r.leaves << " leaves, " << r.inner_nodes << " inner nodes, " << r.block_bytes
          << " bytes in blocks\n"
          << "objects          " << r.pool->objects << " allocated, " << r.pool->leaked_objects
          << " reached by no block (" << r.pool->leaked_bytes << " bytes"
          << (r.clean_close ? ")\n" : "; the next open frees them)\n");
    } else {
      out << "meta slot 0      " << r.slots[0] << '\n' << "meta slot 1      " << r.slots[1] << '\n';
    }
    if (r.slot >= 0) {
      out << "checked          slot " << r.slot << " (generation " << r.generation << ")\n"
          << "tree             " << r.leaves << " leaves, " << r.inner_nodes << " inner nodes, " << r.block_bytes
          << " bytes in blocks\n";
      if (r.leaves > 1) {
        out << "leaf order       " << std::fixed << std::setprecision(1)
            << 100.0 * static_cast<double>(r.leaves_in_key_order) / static_cast<double>(r.leaves - 1)
            << std::defaultfloat << "% of neighbouring leaves lie in key order in the file"
            << " (scans stream them; `tessel compact` restores it)\n";
      }
      out << "unreachable      " << r.unreachable_bytes
          << (r.clean_close ? " bytes free\n" : " bytes free or left by an unclean shutdown\n");
    }
    if (r.named_snapshots > 0) {
      out << "named snapshots  " << r.named_snapshots << ", " << r.named_only_blocks
          << " blocks reached by them only\n";
    }
    out << "log              " << r.log_records << " records, " << r.log_records_to_replay
        << " after the checked commit\n";
    if (!r.log_torn_tail.empty()) out << "log tail         torn at " << r.log_torn_tail << " (open cuts it)\n";
    for (const std::string& p : r.problems) out << "PROBLEM          " << p << '\n';
    out << (r.problems.empty() ? "healthy\n" : "DAMAGED\n");
  }
  return r.problems.empty() ? 0 : static_cast<int>(errc::corruption);
}

run_function setup(CLI::App& app) { return setup_store_command(app, "check", check_of); }

const command_registration registration{
    {"check", "verify a store's checksums, tree invariants and space accounting (read-only)", &setup}};

}  // namespace
}  // namespace tessel::tools
