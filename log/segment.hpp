// Operation-log segment files: naming, the 64-byte header, listing a log directory, and creating a new
// preallocated segment atomically.
//
// A segment is `<dir>/<first_seq as 20 decimal digits>.tlog`: a header, then records back to back, then
// zeros up to the preallocated size. A new segment is built under `<name>.tmp` (header written,
// space preallocated, fsynced) and renamed into place, then the directory is fsynced: a file with a segment
// name therefore always has a whole header, and a crash mid-creation leaves only a .tmp file that the next
// writer deletes and every reader ignores.
//
// Header (docs/format.md, "Operation log"):
//   0  u8[8]  magic "TSLOG\0\r\n"   (the NUL and CR LF catch text-mode and string-copy damage, as PNG's do)
//   8  u32    format version (2; 1 is read too)
//   12 u32    header length (64)
//   16 u8[16] store id
//   32 u64    first_seq
//   40 u8[16] zero
//   56 u64    checksum64 of bytes [0, 56)
//
// Thread safety: stateless functions; distinct files may be handled from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessel/error.hpp"

#include "log/file_io.hpp"

namespace tessel::oplog {

/// Ties segments to one store, so a log directory copied or mixed up with another store's is refused.
using store_id = std::array<std::uint8_t, 16>;

inline constexpr std::size_t segment_header_bytes = 64;
/// The version new segments get. 2: records may be batches (oplog::op_kind::batch); a version-1 segment
/// (older builds) holds none, and is read the same way.
inline constexpr std::uint32_t segment_format_version = 2;
inline constexpr std::uint32_t oldest_segment_format_version = 1;
inline constexpr std::array<std::byte, 8> segment_magic = {std::byte{'T'},  std::byte{'S'}, std::byte{'L'},
                                                           std::byte{'O'},  std::byte{'G'}, std::byte{0},
                                                           std::byte{'\r'}, std::byte{'\n'}};
inline constexpr std::string_view segment_extension = ".tlog";
/// Segment files are preallocated in whole pages.
inline constexpr std::size_t segment_alignment = 4096;

/// "00000000000000000042.tlog" for 42.
[[nodiscard]] std::string segment_file_name(std::uint64_t first_seq);

/// The first_seq a segment file name encodes, or nullopt when `name` is not exactly 20 digits + ".tlog".
[[nodiscard]] std::optional<std::uint64_t> parse_segment_name(std::string_view name) noexcept;

/// Fills a 64-byte header.
void encode_segment_header(std::span<std::byte, segment_header_bytes> out, const store_id& id,
                           std::uint64_t first_seq) noexcept;

/// Validates a header read from `file` and returns its first_seq. Errors: corruption when the magic, the
/// header length or the checksum is wrong, or the store id is another store's ("segment belongs to another
/// store"); version_mismatch when the version is newer than this build reads (told apart from damage by
/// the version field alone when the checksum does not match, since a newer format may checksum differently).
[[nodiscard]] result<std::uint64_t> check_segment_header(std::span<const std::byte, segment_header_bytes> bytes,
                                                         const store_id& id,
                                                         const std::filesystem::path& file) noexcept;

/// One segment file of a log directory.
struct segment_entry {
  std::uint64_t first_seq = 0;
  std::filesystem::path path;
};

/// Every segment file in `dir`, by first_seq. Other names (.tmp files included) are ignored; a missing
/// directory is an empty log. Errors: io_error when the directory cannot be read, no_memory.
[[nodiscard]] result<std::vector<segment_entry>> list_segments(const std::filesystem::path& dir) noexcept;

/// Creates `<dir>/<first_seq>.tlog` with a header and `capacity` bytes preallocated (posix_fallocate, so
/// writes inside it cannot fail for space on file systems that allocate in place: ext4, XFS; not on
/// copy-on-write ones), mode 0600, durable (file and directory fsynced) before it returns. An existing
/// file of that name is replaced atomically. Returns the file opened for writing.
/// REQUIRES: capacity >= segment_header_bytes. Errors: no_space (ENOSPC, EDQUOT, EFBIG), io_error; on
/// error no segment file was created or changed.
[[nodiscard]] result<unique_fd> create_segment(const std::filesystem::path& dir, const store_id& id,
                                               std::uint64_t first_seq, std::uint64_t capacity,
                                               const fault_hook& inject) noexcept;

/// Grows an open segment's preallocation to `capacity` bytes and fsyncs it (the new size is metadata), for
/// a record too big for the empty current segment: growing it in place keeps its name and its open
/// descriptor valid, which replacing the file would not. Errors: no_space (ENOSPC, EDQUOT, EFBIG),
/// io_error; on error the segment may have some extra blocks, its usable size is unchanged.
[[nodiscard]] result<void> grow_segment(int fd, const std::filesystem::path& path, std::uint64_t capacity,
                                        const fault_hook& inject) noexcept;

/// Deletes leftover `<name>.tlog.tmp` files of interrupted creations. Errors: io_error.
[[nodiscard]] result<void> remove_stale_segment_temps(const std::filesystem::path& dir) noexcept;

}  // namespace tessel::oplog
