#include "store/store_recover.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "tessel/store.hpp"

#include "store/pool_open.hpp"
#include "store/store_impl.hpp"

namespace tessel {

namespace {

/// The check problem that an open repairs: the newest meta slot is unusable and the other one opens.
bool names_a_fallback(const std::string& problem) {
  return problem.find("the store still opens from slot") != std::string::npos;
}

void sort_findings(recover_report& r) {
  const check_report& c = r.before;
  for (const std::string& p : c.problems) {
    if (names_a_fallback(p)) {
      r.repairable.push_back("meta slot unusable: " + p + "; the next commits rewrite both slots");
    } else if (r.backend == "pmem" && p.find("after a clean close") != std::string::npos) {
      r.repairable.push_back(p + ": freed by a verifying open");
    } else {
      r.damage.push_back(p);
    }
  }
  if (!c.log_torn_tail.empty()) r.repairable.push_back("operation log torn at " + c.log_torn_tail + ": cut by open");
  if (c.log_records_to_replay > 0) {
    r.repairable.push_back(std::to_string(c.log_records_to_replay) +
                           " operation log records after the last commit: replayed into the tree by open");
  }
  if (c.pool) {
    if (c.pool->leaked_objects > 0 && !c.clean_close) {
      r.repairable.push_back(std::to_string(c.pool->leaked_objects) + " leaked objects (" +
                             std::to_string(c.pool->leaked_bytes) + " bytes) no tree block is in: freed by open");
    }
  } else if (!c.clean_close && c.unreachable_bytes > 0) {
    r.repairable.push_back(std::to_string(c.unreachable_bytes) +
                           " bytes unreachable after an unclean shutdown: free space or garbage, reclaimed by open");
  }
}

/// Opens the store for writing with every checksum verified (which repairs), notes what open did, closes.
result<void> repair(const std::filesystem::path& dir, recover_report& r) {
  options o;
  o.backend = r.backend == "pmem" ? backend::pmem : backend::mmap;
  o.mode = open_mode::open_existing;
  o.durability = durability::none;
  o.verify_checksums_on_open = true;
  auto s = store::open(dir.string(), o);
  if (!s) return tl::unexpected(std::move(s.error()));
  const detail::durable_state& d = *detail::store_access::impl(**s).durable();
  if (d.replayed_records > 0) r.actions.push_back("replayed " + std::to_string(d.replayed_records) + " log records");
  if (!r.before.log_torn_tail.empty()) r.actions.push_back("cut the torn log tail at " + r.before.log_torn_tail);
  if (o.backend == backend::pmem) {
    if (d.pool_recovery.leaked_objects > 0) {
      r.actions.push_back("freed " + std::to_string(d.pool_recovery.leaked_objects) + " leaked objects (" +
                          std::to_string(d.pool_recovery.leaked_bytes) + " bytes)");
    }
  } else {
    const bool slot_unusable = std::any_of(r.before.problems.begin(), r.before.problems.end(), names_a_fallback);
    if (!d.recovery.fallback.empty() || slot_unusable) {
      r.actions.push_back("opened from meta slot " + std::to_string(d.recovery.slot) + " (" +
                          (d.recovery.fallback.empty() ? "the other slot is unusable" : d.recovery.fallback) + ")");
    }
    if (!d.recovery.from_free_table) {
      r.actions.push_back("rebuilt the free space from a walk of " + std::to_string(d.recovery.blocks) + " blocks");
    }
  }
  if (auto ok = (*s)->close(); !ok) return ok;
  r.actions.emplace_back("committed and closed cleanly");
  return {};
}

}  // namespace

result<recover_report> recover_store(const std::filesystem::path& dir, bool apply,
                                     const check_progress& progress) noexcept {
  try {
    recover_report r;
    r.backend = detail::pool_store_exists(dir) ? "pmem" : "mmap";
    auto before = check_store(dir, progress);
    if (!before) return tl::unexpected(std::move(before.error()));
    r.before = std::move(*before);
    sort_findings(r);
    if (!apply || !r.damage.empty()) return r;
    if (auto ok = repair(dir, r); !ok) return tl::unexpected(std::move(ok.error()));
    r.applied = true;
    auto after = check_store(dir, progress);
    if (!after) return tl::unexpected(std::move(after.error()));
    r.after = std::move(*after);
    return r;
  } catch (...) {
    return make_error(errc::no_memory, "recovering store " + dir.string());
  }
}

}  // namespace tessel
