#include "store/pool_check.hpp"

#include <string>
#include <utility>
#include <vector>

#include <libpmempool.h>

#include "index/art_inspect.hpp"
#include "pmem/pool_log.hpp"
#include "pmem/pool_region.hpp"
#include "store/pool_open.hpp"
#include "store/pool_recovery.hpp"
#include "store/snapshot_catalog.hpp"

namespace tessel::detail {

namespace {

std::string pmempool_result_name(pmempool_check_result r) {
  switch (r) {
    case PMEMPOOL_CHECK_RESULT_CONSISTENT: return "consistent";
    case PMEMPOOL_CHECK_RESULT_NOT_CONSISTENT: return "not consistent";
    case PMEMPOOL_CHECK_RESULT_REPAIRED: return "repaired";
    case PMEMPOOL_CHECK_RESULT_CANNOT_REPAIR: return "cannot repair";
    case PMEMPOOL_CHECK_RESULT_ERROR: return "error";
    case PMEMPOOL_CHECK_RESULT_SYNC_REQ: return "sync required";
  }
  return "unknown result " + std::to_string(static_cast<int>(r));
}

/// libpmempool's check, without repair: nothing is written.
void run_pmempool_check(const std::filesystem::path& file, pool_check_facts& facts, check_report& report) {
  pmempool_check_args args{};
  args.path = file.c_str();
  args.backup_path = nullptr;
  args.pool_type = PMEMPOOL_POOL_TYPE_OBJ;
  args.flags = PMEMPOOL_CHECK_FORMAT_STR;
  PMEMpoolcheck* ctx = pmempool_check_init(&args, sizeof args);
  if (ctx == nullptr) {
    facts.pmempool_result = "not run";
    report.problems.push_back(std::string("libpmempool could not check the pool: ") + pmempool_errormsg());
    return;
  }
  while (pmempool_check_status* status = pmempool_check(ctx)) {
    if (status->str.msg != nullptr) facts.pmempool_messages.emplace_back(status->str.msg);
  }
  const pmempool_check_result r = pmempool_check_end(ctx);
  facts.pmempool_result = pmempool_result_name(r);
  if (r != PMEMPOOL_CHECK_RESULT_CONSISTENT) {
    report.problems.push_back("libpmempool finds the pool " + facts.pmempool_result);
  }
}

}  // namespace

result<check_report> check_pool(const std::filesystem::path& dir, const check_progress& progress) noexcept {
  try {
    const std::filesystem::path file = dir / pool_file_name;
    check_report report;
    pool_check_facts facts;
    run_pmempool_check(file, facts, report);

    auto opened = pmem::pool_region::open(file, /*read_only=*/true);
    if (!opened) return tl::unexpected(std::move(opened.error()));
    const pmem::pool_region& pool = **opened;
    const pmem::pool_meta& meta = pool.root().meta;
    facts.is_pmem = pool.is_pmem();
    facts.pool_bytes = report.file_size = pool.pool_bytes();
    report.generation = meta.generation;
    report.key_count = meta.key_count;
    report.clean_close = (meta.flags & pmem::pool_clean_close) != 0;

    auto named = read_snapshot_catalog(dir, pool.root().id);
    if (!named) {
      report.problems.push_back("snapshot catalog: " + std::string(named.error().message()));
      named = std::vector<named_snapshot_record>{};
    }
    report.named_snapshots = named->size();
    auto audit = audit_pool(pool, /*verify_checksums=*/true, *named, progress);
    if (!audit) {
      report.problems.emplace_back(audit.error().message());
    } else {
      report.leaves = audit->leaves;
      report.inner_nodes = audit->inner_nodes;
      report.named_only_blocks = audit->leaves_named_only + audit->inner_nodes_named_only;
      report.block_bytes = audit->block_bytes;
      facts.objects = audit->objects;
      facts.leaked_objects = audit->leaked.size();
      for (const pmem::pool_range& r : audit->leaked) facts.leaked_bytes += r.size;
      report.problems.insert(report.problems.end(), audit->problems.begin(), audit->problems.end());
      if (report.clean_close && !audit->leaked.empty()) {
        report.problems.push_back(std::to_string(audit->leaked.size()) +
                                  " allocated objects no tree block is in, after a clean close");
      }
      if (audit->leaves != meta.key_count) {
        report.problems.push_back("the root object records " + std::to_string(meta.key_count) +
                                  " keys but the tree holds " + std::to_string(audit->leaves));
      }
      // Structural invariants last: they read keys and assume every reference is sound.
      if (audit->problems.empty()) {
        if (auto ok = index::inspect_verify(pool.base(), index::node_ref::from_bits(meta.root), audit->leaves); !ok) {
          report.problems.push_back("tree invariant broken: " + std::string(ok.error().message()));
        }
        for (const named_snapshot_record& n : *named) {
          if (auto ok = index::inspect_verify(pool.base(), index::node_ref::from_bits(n.root), n.key_count); !ok) {
            report.problems.push_back("named snapshot '" + n.name +
                                      "': tree invariant broken: " + std::string(ok.error().message()));
          }
        }
      }
    }

    auto log = pmem::scan_pool_log(pool, meta.at_seq);
    if (!log) {
      report.problems.push_back("operation log area: " + std::string(log.error().message()));
    } else {
      report.log_records = report.log_records_to_replay = log->replayed;
      if (log->torn) report.log_torn_tail = "area offset " + std::to_string(log->end_offset) + " (" + *log->torn + ")";
    }
    report.pool = std::move(facts);
    return report;
  } catch (...) {
    return make_error(errc::no_memory, "checking pool store " + dir.string());
  }
}

}  // namespace tessel::detail
