// The operation log's part of opening a durable store: replay the records the durable tree does not hold
// (seq > the meta slot's at_seq) onto the live tree, cut a torn tail, and open the writer where the log
// continues. A torn or corrupt tail is never replayed as data (log/log_reader.hpp has the rules).
//
// Thread safety: runs before the store is shared.
#pragma once

#include <filesystem>

#include "tessel/error.hpp"

#include "store/batch_ops.hpp"
#include "store/store_impl.hpp"

namespace tessel::detail {

/// The store's log directory.
[[nodiscard]] inline std::filesystem::path log_directory(const std::filesystem::path& store_dir) {
  return store_dir / "log";
}

/// Applies one replayed log record to `tree` (an mmap store's log and a pool's log area alike).
/// Errors: the tree's (no_space, no_memory).
[[nodiscard]] result<void> apply_log_record(store_tree& tree, const oplog::record_view& r) noexcept;

/// Applies a batch's ops to `tree` in order; `applied` says how many changed it. Errors: the tree's
/// (no_space, no_memory), with the `applied` ops before the failing one applied.
[[nodiscard]] result<void> apply_ops(store_tree& tree, std::span<const batch_op> ops, std::size_t& applied) noexcept;

/// Replays and (unless read-only) cuts the tail and opens `impl.durable()->log`.
/// Errors: corruption / version_mismatch from the scan; what applying a record returns (no_space);
/// io_error, no_space from cutting the tail or opening the writer.
[[nodiscard]] result<void> recover_log(store_impl& impl) noexcept;

}  // namespace tessel::detail
