#include "tools/pool_info.hpp"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "pmem/pool_log.hpp"
#include "pmem/pool_region.hpp"
#include "store/pool_open.hpp"
#include "tools/named_snapshot_facts.hpp"
#include "tools/tool_support.hpp"

namespace tessel::tools {

namespace {

/// Whether the file lives on a DAX mapping (fs-dax): a writable open then persists with cache flushes.
bool dax_file(const std::filesystem::path& p) {
#ifdef STATX_ATTR_DAX
  struct statx st {};
  if (::statx(AT_FDCWD, p.c_str(), 0, STATX_BASIC_STATS, &st) == 0) {
    return (st.stx_attributes_mask & STATX_ATTR_DAX) != 0 && (st.stx_attributes & STATX_ATTR_DAX) != 0;
  }
#endif
  (void)p;
  return false;
}

}  // namespace

int pool_info(const std::string& dir, bool json, std::ostream& out) {
  const std::filesystem::path file = std::filesystem::path(dir) / detail::pool_file_name;
  auto opened = pmem::pool_region::open(file, /*read_only=*/true);
  if (!opened) return fail("info", opened.error());
  const pmem::pool_region& pool = **opened;
  const pmem::pool_root& r = pool.root();
  const bool dax = dax_file(file);
  // This handle's mapping is private (read-only), so it is never pmem to libpmem unless forced; a writable
  // open of a file on DAX maps it for flushing.
  const bool flushes = pool.is_pmem() || dax;
  nlohmann::json j;
  j["path"] = dir;
  j["backend"] = "pmem";
  j["format_version"] = r.format_version;
  j["store_id"] = hex_id(r.id);
  j["created_unix_ns"] = r.created_unix_ns;
  j["incompat_features"] = r.incompat_features;
  j["pool_bytes"] = pool.pool_bytes();
  j["dax_file"] = dax;
  j["pmem_is_pmem"] = pool.is_pmem();
  j["persistence"] = flushes ? "flush" : "msync";
  j["keys"] = r.meta.key_count;
  j["commit"] = {{"generation", r.meta.generation},
                 {"epoch", r.meta.epoch},
                 {"keys", r.meta.key_count},
                 {"leaf_bytes", r.meta.leaf_bytes},
                 {"at_seq", r.meta.at_seq},
                 {"allocated_bytes", r.meta.allocated_bytes},
                 {"clean_close", (r.meta.flags & pmem::pool_clean_close) != 0},
                 {"committed_unix_ns", r.meta.committed_unix_ns}};
  auto log = pmem::scan_pool_log(pool, r.meta.at_seq);
  if (log) {
    j["log"] = {{"area_offset", r.log_offset},
                {"area_bytes", r.log_bytes},
                {"to_replay", log->replayed},
                {"used_bytes", log->end_offset}};
    if (log->torn) j["log"]["torn_tail"] = {{"offset", log->end_offset}, {"reason", *log->torn}};
  } else {
    j["log"] = {{"problem", log.error().to_string()}};
  }
  j["named_snapshots"] = named_snapshots_json(dir, r.id);
  if (json) {
    out << j.dump(2) << '\n';
    return 0;
  }
  out << "store            " << dir << " (pmem)\n"
      << "format version   " << r.format_version << '\n'
      << "store id         " << j["store_id"].get<std::string>() << '\n'
      << "pool             " << pool.pool_bytes() << " bytes, "
      << (flushes ? "persisted by cache flushes (pmem)" : "persisted by msync (not persistent memory)")
      << (dax ? ", on DAX" : "") << '\n'
      << "keys             " << r.meta.key_count << '\n'
      << "commit           generation " << r.meta.generation << ", epoch " << r.meta.epoch << ", at_seq "
      << r.meta.at_seq << ", " << r.meta.allocated_bytes << " bytes allocated"
      << ((r.meta.flags & pmem::pool_clean_close) != 0 ? ", clean close" : "") << '\n';
  if (log) {
    out << "log area         " << r.log_bytes << " bytes, " << log->replayed
        << " records after the commit (the next open replays them)\n";
    if (log->torn) {
      out << "log tail         torn at area offset " << log->end_offset << " (" << *log->torn
          << "); the next open ignores it\n";
    }
  } else {
    out << "log area         unreadable: " << log.error().to_string() << '\n';
  }
  print_named_snapshots(j["named_snapshots"], out);
  return 0;
}

}  // namespace tessel::tools
