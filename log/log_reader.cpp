// Log recovery (log/log_reader.hpp): the scan, the torn-tail rule and cut_tail.
#include "log/log_reader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <span>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace tessel::oplog {

namespace {

constexpr std::size_t io_chunk = 1U << 20;

[[nodiscard]] bool all_zero(std::span<const std::byte> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// Index one past the last nonzero byte of `bytes`, or 0 when all are zero.
[[nodiscard]] std::size_t nonzero_end(std::span<const std::byte> bytes) noexcept {
  std::size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == std::byte{0}) --end;
  return end;
}

// Reads the whole of `path` into `out` (reused between segments). The file is at most one segment, which
// the writer sized; a segment is read in one piece so a record never straddles two reads.
[[nodiscard]] result<void> read_file(const std::filesystem::path& path, std::vector<std::byte>& out) noexcept {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return tl::unexpected(std::move(fd.error()));
  auto size = file_size(fd->get(), path);
  if (!size) return tl::unexpected(std::move(size.error()));
  try {
    out.resize(*size);
  } catch (...) {
    return make_error(errc::no_memory, "reading " + path.string() + " (" + std::to_string(*size) + " bytes)");
  }
  return pread_full(fd->get(), out, 0, path);
}

// Validates the header of a segment already read into `data`; returns its first_seq.
[[nodiscard]] result<std::uint64_t> read_header(const segment_entry& s, std::span<const std::byte> data,
                                                const store_id& id) noexcept {
  if (data.size() < segment_header_bytes) {
    return make_error(errc::corruption,
                      s.path.string() + ": " + std::to_string(data.size()) + " bytes, shorter than a segment header");
  }
  auto first = check_segment_header(data.first<segment_header_bytes>(), id, s.path);
  if (!first) return first;
  if (*first != s.first_seq) {
    return make_error(errc::corruption, s.path.string() + ": header says first_seq " + std::to_string(*first) +
                                            " but the file name says " + std::to_string(s.first_seq));
  }
  return first;
}

// True when the segment has a valid header and nothing but zeros after it.
[[nodiscard]] result<bool> segment_is_empty(const segment_entry& s, const store_id& id,
                                            std::vector<std::byte>& data) noexcept {
  if (auto r = read_file(s.path, data); !r) return tl::unexpected(std::move(r.error()));
  if (auto h = read_header(s, data, id); !h) return tl::unexpected(std::move(h.error()));
  return all_zero(std::span<const std::byte>(data).subspan(segment_header_bytes));
}

/// Whether `listed[from]` and every segment after it hold no record.
[[nodiscard]] result<bool> empty_segments_from(const std::vector<segment_entry>& listed, std::size_t from,
                                               const store_id& id, std::vector<std::byte>& data) noexcept {
  for (std::size_t j = from; j < listed.size(); ++j) {
    auto empty = segment_is_empty(listed[j], id, data);
    if (!empty || !*empty) return empty;
  }
  return true;
}

}  // namespace

result<log_scan_report> scan_log(const std::filesystem::path& dir, const store_id& id, std::uint64_t after_seq,
                                 const record_handler& on_record) noexcept {
  try {
    auto listed = list_segments(dir);
    if (!listed) return tl::unexpected(std::move(listed.error()));
    log_scan_report report;
    std::vector<std::byte> data;
    std::uint64_t expected = 0;  // seq the next record must have; 0 before the first segment
    for (std::size_t i = 0; i < listed->size(); ++i) {
      const segment_entry& s = (*listed)[i];
      if (auto r = read_file(s.path, data); !r) return tl::unexpected(std::move(r.error()));
      auto first = read_header(s, data, id);
      if (!first) return tl::unexpected(std::move(first.error()));
      // Records after after_seq must all be here; before it, segments may have been dropped.
      if (i == 0) {
        report.first_seq = *first;
        if (*first - 1 > after_seq) {
          return make_error(errc::corruption, s.path.string() + ": the log starts at seq " + std::to_string(*first) +
                                                  " but records after " + std::to_string(after_seq) + " are needed");
        }
      } else if (*first < expected) {
        return make_error(errc::corruption, s.path.string() + ": starts at seq " + std::to_string(*first) +
                                                ", which the previous segment already holds (up to " +
                                                std::to_string(expected - 1) + ")");
      } else if (*first > expected && *first - 1 > after_seq) {
        // Empty from here on: a rollover created these segments while the records before them were still
        // buffered, and a kill lost the buffer (durability none). The log ends where its records do.
        auto rest = empty_segments_from(*listed, i, id, data);
        if (!rest) return tl::unexpected(std::move(rest.error()));
        if (!*rest) {
          return make_error(errc::corruption, s.path.string() + ": starts at seq " + std::to_string(*first) +
                                                  " but the previous segment ends at " + std::to_string(expected - 1));
        }
        const segment_summary& previous = report.files.back();
        report.damage = tail_damage{
            previous.path,
            segment_header_bytes + previous.record_bytes,
            "records " + std::to_string(expected) + " to " + std::to_string(*first - 1) + " were never written",
            0,
            {}};
        for (std::size_t j = i; j < listed->size(); ++j) {
          report.damage->later_segments.push_back((*listed)[j].path);
          std::error_code unknown_size;  // they were just read; a size that vanished since counts as none
          const std::uintmax_t bytes = std::filesystem::file_size((*listed)[j].path, unknown_size);
          if (!unknown_size) report.file_bytes += bytes;
        }
        report.segments += listed->size() - i;
        break;
      }
      ++report.segments;
      report.file_bytes += data.size();
      segment_summary summary{s.path, *first, 0, 0, data.size()};
      const std::span<const std::byte> bytes(data);
      std::uint64_t seq = *first;
      std::size_t off = segment_header_bytes;
      while (off < bytes.size()) {
        auto rec = decode_record(bytes.subspan(off));
        if (rec && rec->record.seq == seq) {
          if (seq > after_seq && on_record) {
            if (auto r = on_record(rec->record); !r) return tl::unexpected(std::move(r.error()));
            ++report.replayed;
          }
          ++summary.records;
          summary.record_bytes += rec->size;
          off += rec->size;
          ++seq;
          continue;
        }
        const std::size_t end = nonzero_end(bytes.subspan(off));
        if (end == 0) break;  // the preallocated, never written rest: a clean end
        std::string reason =
            rec ? "seq " + std::to_string(rec->record.seq) + " where " + std::to_string(seq) + " was expected"
                : std::string(rec.error().message());
        tail_damage damage{s.path, off, std::move(reason), end, {}};
        // A torn tail only if nothing after it was ever written (see the file comment for why).
        for (std::size_t j = i + 1; j < listed->size(); ++j) {
          auto empty = segment_is_empty((*listed)[j], id, data);
          if (!empty) return tl::unexpected(std::move(empty.error()));
          if (!*empty) {
            return make_error(errc::corruption, s.path.string() + " at offset " + std::to_string(off) + ": " +
                                                    damage.reason + ", and the later segment " +
                                                    (*listed)[j].path.string() + " holds records");
          }
          damage.later_segments.push_back((*listed)[j].path);
          ++report.segments;
          report.file_bytes += data.size();
        }
        report.damage = std::move(damage);
        break;
      }
      report.records += summary.records;
      report.bytes += summary.record_bytes;
      if (summary.records != 0) report.last_seq = seq - 1;
      report.files.push_back(std::move(summary));
      expected = seq;
      if (report.damage) break;
    }
    if (expected != 0) report.next_seq = expected;
    if (after_seq != UINT64_MAX) report.next_seq = std::max(report.next_seq, after_seq + 1);
    return report;
  } catch (...) {
    return make_error(errc::no_memory, "scanning log directory " + dir.string());
  }
}

result<void> cut_tail(const tail_damage& damage) noexcept {
  try {
    if (!damage.later_segments.empty()) {
      for (auto it = damage.later_segments.rbegin(); it != damage.later_segments.rend(); ++it) {
        if (::unlink(it->c_str()) != 0 && errno != ENOENT) {
          const int e = errno;
          return tl::unexpected(log_errno_error(e, "deleting log segment " + it->string()));
        }
      }
      if (auto r = sync_directory(damage.segment.parent_path()); !r) return r;
    }
    auto fd = open_file(damage.segment, O_RDWR);
    if (!fd) return tl::unexpected(std::move(fd.error()));
    auto file_bytes = file_size(fd->get(), damage.segment);
    if (!file_bytes) return tl::unexpected(std::move(file_bytes.error()));
    const std::uint64_t size = *file_bytes;
    // Find the end of the nonzero bytes again rather than trusting bytes_after: zeroing more than that
    // would only cost time, and less would leave damage.
    std::vector<std::byte> chunk(io_chunk);
    std::uint64_t end = damage.offset;
    for (std::uint64_t at = damage.offset; at < size; at += io_chunk) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(io_chunk, size - at));
      if (auto r = pread_full(fd->get(), std::span(chunk).first(n), at, damage.segment); !r) return r;
      if (const std::size_t e = nonzero_end(std::span<const std::byte>(chunk).first(n)); e != 0) end = at + e;
    }
    std::fill(chunk.begin(), chunk.end(), std::byte{0});
    for (std::uint64_t at = damage.offset; at < end; at += io_chunk) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(io_chunk, end - at));
      if (auto r = pwrite_full(fd->get(), std::span<const std::byte>(chunk).first(n), at, damage.segment); !r) {
        return r;
      }
    }
    if (end > damage.offset && ::fdatasync(fd->get()) != 0) {
      const int e = errno;
      return tl::unexpected(log_errno_error(e, "syncing " + damage.segment.string()));
    }
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "cutting the log tail in " + damage.segment.string());
  }
}

}  // namespace tessel::oplog
