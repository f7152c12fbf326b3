// pool_log: the operation log of a pmem store -- an area inside the pool (its offset and size are in the
// root object) holding log records (log/record.hpp) one after another from its start, each at an 8-byte
// boundary.
//
// A durable write appends its record and persists those bytes (flushes and a drain on pmem: no system
// call), which is the whole cost of a durable put; the tree's objects follow at the next commit. A commit
// publishes at_seq = the last seq appended, and the log starts over at offset 0: every record in the area
// is then at or below at_seq, so stale bytes of earlier rounds never read as live records -- recovery
// replays from offset 0 exactly the records with seq at_seq + 1, at_seq + 2, ... and stops at the first that
// does not decode or does not follow on.
//
// Torn tail or corruption: a record that fails is a torn tail (the crash hit the last append) unless the
// record that its length field points past decodes with the next seq -- then a record in the middle was
// damaged, and acknowledged writes after it would be lost: corruption.
//
// Thread safety: one writer (under the store's mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"

#include "log/record.hpp"
#include "pmem/pool_region.hpp"

namespace tessel::pmem {

/// What recovery found in the log area.
struct pool_log_scan {
  std::uint64_t replayed = 0;       ///< records applied (seq at_seq + 1 ...)
  std::uint64_t end_offset = 0;     ///< where the valid records end: the writer continues here
  std::uint64_t next_seq = 0;       ///< the seq of the next record
  std::optional<std::string> torn;  ///< why the record at end_offset was refused, when it was not empty space
};

class pool_log {
 public:
  /// The log area of `region`'s root object. The writer position is the start until recover() runs.
  explicit pool_log(pool_region& region) noexcept;

  /// Replays the records after `at_seq` through `apply` and positions the writer after them.
  /// Errors: corruption (a damaged record in the middle), or what `apply` returns.
  [[nodiscard]] result<pool_log_scan> recover(std::uint64_t at_seq,
                                              const std::function<result<void>(const oplog::record_view&)>& apply);

  /// Bytes a record of these lengths occupies in the area.
  [[nodiscard]] static std::size_t footprint(std::size_t key_size, std::size_t value_size) noexcept {
    return (oplog::encoded_size(key_size, value_size) + 7) & ~std::size_t{7};
  }
  [[nodiscard]] bool fits(std::size_t footprint) const noexcept { return footprint <= capacity_ - write_offset_; }
  [[nodiscard]] bool ever_fits(std::size_t footprint) const noexcept { return footprint <= capacity_; }

  /// Writes the next record (not yet persisted) and returns its seq. REQUIRES: fits(footprint(...)).
  std::uint64_t append(oplog::op_kind kind, key_view key, value_view value) noexcept;
  /// Takes the next seq for a write too large for the area; the commit that follows it covers it.
  std::uint64_t skip() noexcept { return next_seq_++; }
  /// Persists every record appended so far. Errors: io_error (msync).
  [[nodiscard]] result<void> sync() noexcept;
  /// After a commit published at_seq = last_seq(): the next record goes to the start of the area.
  void restart() noexcept { write_offset_ = synced_offset_ = 0; }

  [[nodiscard]] std::uint64_t last_seq() const noexcept { return next_seq_ - 1; }
  [[nodiscard]] std::uint64_t used_bytes() const noexcept { return write_offset_; }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

 private:
  pool_region& region_;
  std::byte* area_;
  std::uint64_t area_offset_;
  std::uint64_t capacity_;
  std::uint64_t write_offset_ = 0;
  std::uint64_t synced_offset_ = 0;
  std::uint64_t next_seq_ = 1;
};

/// Reads the log area without a writer: the records after `at_seq`, for `tessel info` and `check`.
[[nodiscard]] result<pool_log_scan> scan_pool_log(const pool_region& region, std::uint64_t at_seq) noexcept;

}  // namespace tessel::pmem
