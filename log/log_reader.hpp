// Recovery side of the operation log: scan_log reads every segment in order, replays the records a
// checkpoint does not cover, and tells a clean end from a torn tail and from corruption; cut_tail removes
// a torn tail so a new writer can follow on. Read-only tools (`tessel info`, `tessel check`) call scan_log,
// which never writes.
//
// The rules (docs/format.md, "Operation log", has the full statement):
//   - End of data: from some record boundary on, the rest of the segment is zeros (preallocated space).
//   - Damage: a record that does not decode (bad length, bad checksum, partial) or whose seq is not the
//     previous + 1, with some nonzero byte at or after it. Nothing from the damage on is replayed.
//   - Damage in the last segment is a torn tail: a crash between a write and its fdatasync. So is damage
//     followed only by empty segments (a rollover created them before the crash; the writer fdatasyncs a
//     segment before it writes a byte into the next, so damage followed by records cannot be a crash).
//     Both are reported in log_scan_report::damage and the scan returns ok.
//   - Damage followed by a segment holding records is corruption (errc::corruption naming file and offset).
//   - Segments must follow on: each starts at the previous one's end seq. A gap is allowed only where every
//     missing seq is <= after_seq (checkpointed; its segments may have been dropped), and the same holds
//     before the first segment. A gap followed only by empty segments is a torn tail: the records were
//     still in the writer's buffer when rollovers created those segments (durability none), and a kill
//     lost them.
//
// Thread safety: stateless; scan the directory only while no writer writes to it (recovery, or a tool on a
// closed store).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tessel/error.hpp"

#include "log/record.hpp"
#include "log/segment.hpp"

namespace tessel::oplog {

/// Where a scan found a torn tail.
struct tail_damage {
  std::filesystem::path segment;  ///< the segment file holding the damage
  std::uint64_t offset = 0;       ///< file offset of the first byte that is not a valid record
  std::string reason;             ///< why the record there was refused
  std::uint64_t bytes_after = 0;  ///< bytes from offset to the last nonzero byte of the segment, inclusive
  std::vector<std::filesystem::path> later_segments;  ///< empty segments after it, which cut_tail deletes
};

/// One segment as the scan found it (up to the damage, for the damaged one).
struct segment_summary {
  std::filesystem::path path;
  std::uint64_t first_seq = 0;     ///< from the header (and the name)
  std::uint64_t records = 0;       ///< valid records; they hold first_seq .. first_seq + records - 1
  std::uint64_t record_bytes = 0;  ///< bytes of those records
  std::uint64_t file_bytes = 0;    ///< size of the file, preallocated space included
};

struct log_scan_report {
  std::size_t segments = 0;     ///< segment files scanned (the later empty ones of a damage included)
  std::uint64_t first_seq = 0;  ///< first segment's first_seq; 0 when there is no segment
  std::uint64_t last_seq = 0;   ///< seq of the last valid record; 0 when there is none
  /// Where a writer continues: the seq after the last valid record (or the last segment's first_seq when
  /// it holds none), and at least after_seq + 1. 1 for an empty log with after_seq 0.
  std::uint64_t next_seq = 1;
  std::uint64_t records = 0;     ///< valid records, those <= after_seq included
  std::uint64_t replayed = 0;    ///< records passed to on_record (seq > after_seq)
  std::uint64_t bytes = 0;       ///< bytes of the valid records
  std::uint64_t file_bytes = 0;  ///< bytes of all segment files, preallocated space included
  std::vector<segment_summary> files;
  std::optional<tail_damage> damage;  ///< set when the log ends in a torn tail
};

/// Called for each record with seq > after_seq, in seq order. The views borrow the scan's buffer: copy what
/// must outlive the call. An error stops the scan and scan_log returns it.
using record_handler = std::function<result<void>(const record_view&)>;

/// Scans the log in `dir` as described in the file comment. A missing directory is an empty log;
/// files that are not segments are ignored.
/// Errors: corruption (bad magic, header checksum or length, another store's id, first_seq not matching the
/// name, damage followed by records, missing records after after_seq, overlapping segments), each naming
/// the file (and offset); version_mismatch (a segment written by a newer format); io_error; no_memory;
/// whatever on_record returns.
[[nodiscard]] result<log_scan_report> scan_log(const std::filesystem::path& dir, const store_id& id,
                                               std::uint64_t after_seq, const record_handler& on_record) noexcept;

/// Removes a torn tail: deletes the later empty segments (newest first), fsyncs the directory, then writes
/// zeros over the damaged segment from damage.offset to its last nonzero byte and fdatasyncs it. The file
/// keeps its size and preallocated blocks. Deleting before zeroing means a crash in between leaves a log
/// that a rescan still reports as a torn tail, never a gap. Afterwards scan_log finds no damage, and
/// a writer can open at the report's next_seq.
/// REQUIRES: `damage` comes from scan_log of a directory no writer touched since.
/// Errors: io_error, no_space, not_found (the segment is gone), no_memory.
[[nodiscard]] result<void> cut_tail(const tail_damage& damage) noexcept;

}  // namespace tessel::oplog
