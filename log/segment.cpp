// Operation-log segment files (log/segment.hpp).
#include "log/segment.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include "common/checksum.hpp"
#include "common/le_codec.hpp"

namespace tessel::oplog {

namespace {

constexpr std::size_t version_at = 8;
constexpr std::size_t header_length_at = 12;
constexpr std::size_t store_id_at = 16;
constexpr std::size_t first_seq_at = 32;
constexpr std::size_t checksum_at = 56;
constexpr std::size_t name_digits = 20;  // UINT64_MAX has 20 decimal digits
constexpr std::string_view temp_suffix = ".tmp";

[[nodiscard]] bool is_digits(std::string_view s) noexcept {
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

[[nodiscard]] tl::unexpected<error> filesystem_error(const std::error_code& ec, std::string_view what,
                                                     const std::filesystem::path& path) {
  return tl::unexpected(log_errno_error(ec.value(), std::string(what) + " " + path.string()));
}

}  // namespace

std::string segment_file_name(std::uint64_t first_seq) {
  std::string digits = std::to_string(first_seq);
  std::string name(name_digits - digits.size(), '0');
  name += digits;
  name += segment_extension;
  return name;
}

std::optional<std::uint64_t> parse_segment_name(std::string_view name) noexcept {
  if (name.size() != name_digits + segment_extension.size() || !name.ends_with(segment_extension)) return {};
  const std::string_view digits = name.substr(0, name_digits);
  if (!is_digits(digits)) return {};
  std::uint64_t v = 0;
  for (const char c : digits) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return {};  // 20 digits can exceed UINT64_MAX
    v = v * 10 + d;
  }
  return v;
}

void encode_segment_header(std::span<std::byte, segment_header_bytes> out, const store_id& id,
                           std::uint64_t first_seq) noexcept {
  std::memset(out.data(), 0, out.size());
  std::memcpy(out.data(), segment_magic.data(), segment_magic.size());
  store_le<std::uint32_t>(out.data() + version_at, segment_format_version);
  store_le<std::uint32_t>(out.data() + header_length_at, static_cast<std::uint32_t>(segment_header_bytes));
  std::memcpy(out.data() + store_id_at, id.data(), id.size());
  store_le<std::uint64_t>(out.data() + first_seq_at, first_seq);
  store_le<std::uint64_t>(out.data() + checksum_at, checksum64(std::span<const std::byte>(out).first(checksum_at)));
}

result<std::uint64_t> check_segment_header(std::span<const std::byte, segment_header_bytes> bytes, const store_id& id,
                                           const std::filesystem::path& file) noexcept {
  const std::string name = file.string();
  if (std::memcmp(bytes.data(), segment_magic.data(), segment_magic.size()) != 0) {
    return make_error(errc::corruption, name + ": not a log segment (bad magic)");
  }
  const std::uint32_t version = load_le<std::uint32_t>(bytes.data() + version_at);
  const bool checksum_ok = load_le<std::uint64_t>(bytes.data() + checksum_at) == checksum64(bytes.first(checksum_at));
  if (version > segment_format_version) {
    return make_error(errc::version_mismatch, name + ": log segment format version " + std::to_string(version) +
                                                  " is newer than this build reads (" +
                                                  std::to_string(segment_format_version) + ")");
  }
  if (!checksum_ok) return make_error(errc::corruption, name + ": log segment header checksum mismatch");
  if (version < oldest_segment_format_version) {
    return make_error(errc::corruption,
                      name + ": log segment format version " + std::to_string(version) + " does not exist");
  }
  if (const std::uint32_t len = load_le<std::uint32_t>(bytes.data() + header_length_at); len != segment_header_bytes) {
    return make_error(errc::corruption, name + ": log segment header length " + std::to_string(len) + " is not " +
                                            std::to_string(segment_header_bytes));
  }
  if (std::memcmp(bytes.data() + store_id_at, id.data(), id.size()) != 0) {
    return make_error(errc::corruption, name + ": segment belongs to another store");
  }
  return load_le<std::uint64_t>(bytes.data() + first_seq_at);
}

result<std::vector<segment_entry>> list_segments(const std::filesystem::path& dir) noexcept {
  try {
    std::vector<segment_entry> out;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) return out;
      return filesystem_error(ec, "listing", dir);
    }
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (ec) return filesystem_error(ec, "listing", dir);
      const std::filesystem::path& p = it->path();
      if (auto seq = parse_segment_name(p.filename().native())) out.push_back({*seq, p});
    }
    if (ec) return filesystem_error(ec, "listing", dir);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first_seq < b.first_seq; });
    return out;
  } catch (...) {
    return make_error(errc::no_memory, "listing log directory " + dir.string());
  }
}

result<unique_fd> create_segment(const std::filesystem::path& dir, const store_id& id, std::uint64_t first_seq,
                                 std::uint64_t capacity, const fault_hook& inject) noexcept {
  std::filesystem::path final_path;
  std::filesystem::path temp_path;
  try {
    final_path = dir / segment_file_name(first_seq);
    temp_path = final_path;
    temp_path += temp_suffix;
  } catch (...) {
    return make_error(errc::no_memory, "naming a log segment");
  }
  // Any failure below removes the temp file; the final name is only ever touched by the rename.
  auto fail = [&](error e) -> tl::unexpected<error> {
    (void)::unlink(temp_path.c_str());
    return tl::unexpected(std::move(e));
  };
  if (const int e = injected_fault(inject, fault_point::create_file); e != 0) {
    return tl::unexpected(log_errno_error(e, "creating " + temp_path.string()));
  }
  auto fd = open_file(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!fd) return tl::unexpected(std::move(fd.error()));
  int e = injected_fault(inject, fault_point::preallocate);
  // posix_fallocate returns the error instead of setting errno.
  if (e == 0) e = ::posix_fallocate(fd->get(), 0, static_cast<off_t>(capacity));
  if (e != 0) {
    return fail(log_errno_error(e, "preallocating " + std::to_string(capacity) + " bytes for " + final_path.string()));
  }
  std::array<std::byte, segment_header_bytes> header{};
  encode_segment_header(header, id, first_seq);
  if (auto w = pwrite_full(fd->get(), header, 0, temp_path); !w) return fail(std::move(w.error()));
  // fsync, not fdatasync: the file's size and extents must be durable before the name points at it.
  if (::fsync(fd->get()) != 0) {
    e = errno;
    return fail(log_errno_error(e, "syncing " + temp_path.string()));
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    e = errno;
    return fail(log_errno_error(e, "renaming " + temp_path.string()));
  }
  // Only now is the segment part of the log: it must not be lost while later records land in it. When the
  // directory cannot be synced, take the name back: the caller keeps writing to the previous segment, and
  // an empty segment named first_seq would overlap those records.
  if (auto s = sync_directory(dir); !s) {
    (void)::unlink(final_path.c_str());
    return tl::unexpected(std::move(s.error()));
  }
  return fd;
}

result<void> grow_segment(int fd, const std::filesystem::path& path, std::uint64_t capacity,
                          const fault_hook& inject) noexcept {
  int e = injected_fault(inject, fault_point::preallocate);
  if (e == 0) e = ::posix_fallocate(fd, 0, static_cast<off_t>(capacity));
  if (e != 0) return tl::unexpected(log_errno_error(e, "growing " + path.string() + " to " + std::to_string(capacity)));
  if (::fsync(fd) != 0) {
    e = errno;
    return tl::unexpected(log_errno_error(e, "syncing " + path.string()));
  }
  return {};
}

result<void> remove_stale_segment_temps(const std::filesystem::path& dir) noexcept {
  try {
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) return {};
      return filesystem_error(ec, "listing", dir);
    }
    bool removed = false;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (ec) return filesystem_error(ec, "listing", dir);
      const std::string name = it->path().filename().native();
      if (!name.ends_with(temp_suffix) ||
          !parse_segment_name(std::string_view(name).substr(0, name.size() - temp_suffix.size()))) {
        continue;
      }
      if (::unlink(it->path().c_str()) != 0 && errno != ENOENT) {
        const int e = errno;
        return tl::unexpected(log_errno_error(e, "removing " + it->path().string()));
      }
      removed = true;
    }
    if (ec) return filesystem_error(ec, "listing", dir);
    if (removed) return sync_directory(dir);
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "cleaning log directory " + dir.string());
  }
}

}  // namespace tessel::oplog
