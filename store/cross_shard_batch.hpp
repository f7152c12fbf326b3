// Cross-shard write batches (docs/concurrency.md §Cross-shard commits): the record a sharded store's
// coordinator log holds for each batch, and the marker each shard keeps of the last batch it applied.
//
// The commit point of a batch is its record, synced in the coordinator log (`<store>/txn/`, an operation
// log whose records' seqs are the batch ids). Each shard then applies its part and, as the part's last
// write, sets its marker key to the batch id. A shard's log is a prefix of what was appended to it, so after a
// crash a marker >= id means the shard holds the whole part; recovery re-applies the parts of the batches
// above a shard's marker, in id order. Re-applying is safe: no later write to that shard can be durable
// when the part is not (the prefix again).
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tessel/error.hpp"

#include "store/batch_ops.hpp"

namespace tessel::detail {

/// Keys of the cross-shard machinery; users' batches may not write under it.
inline constexpr std::string_view batch_reserved_prefix{"\xFF\xFFtessel/txn/", 13};
/// The shard-local key holding the id of the last cross-shard batch the shard applied (8 bytes, little
/// endian).
inline constexpr std::string_view batch_marker_key{"\xFF\xFFtessel/txn/applied", 20};

struct batch_part {
  std::uint32_t shard = 0;
  std::vector<batch_op> ops;
};

/// The seq a scan of the coordinator log in `log_dir` starts after: the one before its first segment's.
/// Checkpoints and trims delete segments from the front only once every shard holds their batches
/// durably, so nothing before it is needed. 0 for an empty or missing log. Errors: io_error, no_memory.
[[nodiscard]] result<std::uint64_t> coordinator_scan_start(const std::filesystem::path& log_dir) noexcept;

/// {u32 parts; per part: u32 shard, then its ops as store/batch_ops.hpp encodes them}, little endian.
[[nodiscard]] std::string encode_batch(const std::vector<batch_part>& parts);
/// The ops are views into `encoded`. Errors: corruption naming what does not parse.
[[nodiscard]] result<std::vector<batch_part>> decode_batch(std::string_view encoded) noexcept;

}  // namespace tessel::detail
