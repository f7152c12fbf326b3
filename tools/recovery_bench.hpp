// `tessel bench --recovery`: how long open takes after kill -9. A child process builds a store of about
// --data-mb of tree (100-byte values), commits it, then overwrites keys until --log-mb of operation log has
// been written and synced since that commit, and kills itself with SIGKILL. The parent then opens the store
// and reports the time, split into the tree walk (allocator rebuild) and the log replay. The page cache is
// warm, as after a process crash; docs/tools.md §bench --recovery.
//
// Thread safety: runs on the calling thread (and a forked child).
#pragma once

#include <cstddef>
#include <string>

namespace tessel::tools {

struct recovery_bench_config {
  std::string dir = "tessel-bench-data";
  std::size_t data_mb = 1024;
  std::size_t log_mb = 100;
  bool json = false;
};

/// Returns the process exit code.
int run_recovery_bench(const recovery_bench_config& config);

}  // namespace tessel::tools
