// check_pool: what `tessel check` verifies in a pmem store, without writing a byte. First libpmempool's
// consistency check of the pool's own metadata (pool header, object store descriptor, heap), then tessel's:
// the root object (magic, version, checksum), every block of the tree (bounds, block header, checksum) and
// the tree's invariants, every block an allocated object and every object a block (leaked objects are
// garbage after an unclean close, damage after a clean one), and the operation log area.
//
// Thread safety: opens its own copy-on-write handle; a store open elsewhere is `busy` (libpmemobj's lock).
#pragma once

#include <filesystem>

#include "tessel/error.hpp"

#include "store/store_check.hpp"

namespace tessel::detail {

/// Errors (the pool could not be examined at all): not_found, busy, io_error, version_mismatch, and
/// corruption of what libpmemobj needs to open the pool or of the root object. Damage found in the tree,
/// the objects or the log area is in report.problems.
[[nodiscard]] result<check_report> check_pool(const std::filesystem::path& dir,
                                              const check_progress& progress = {}) noexcept;

}  // namespace tessel::detail
