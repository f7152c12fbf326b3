// File plumbing shared by the data file (mmap/) and the operation log (log/): an owning file descriptor,
// whole-buffer pread/pwrite, directory fsync, and errno translation for files that store data.
//
// Thread safety: unique_fd is a value (one owner); the functions are safe from any thread on distinct
// descriptors, and pread/pwrite on one descriptor from several threads (they carry their own offset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "tessel/error.hpp"

namespace tessel {

/// errno_error, except that EFBIG (a file past RLIMIT_FSIZE or the file system's limit) is no_space too:
/// for a store file both mean "this cannot be stored here", and the store handles them alike.
[[nodiscard]] error file_errno_error(int err, std::string_view context);

/// An owned file descriptor; closes it on destruction. -1 = none.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int release() noexcept;
  /// Closes the descriptor. A close error is ignored: nothing here relies on close to report write
  /// errors; durable writes fsync first.
  void reset() noexcept;

 private:
  int fd_ = -1;
};

/// Opens `path` with `flags` (O_CLOEXEC added) and `mode`. Errors: as file_errno_error.
[[nodiscard]] result<unique_fd> open_file(const std::filesystem::path& path, int flags, unsigned mode = 0) noexcept;

/// Reads exactly bytes.size() bytes at `offset`, retrying short reads and EINTR. Errors: io_error, also
/// when the file ends before offset + bytes.size().
[[nodiscard]] result<void> pread_full(int fd, std::span<std::byte> bytes, std::uint64_t offset,
                                      const std::filesystem::path& path) noexcept;

/// Writes all of `bytes` at `offset`, retrying short writes and EINTR. Errors: no_space (ENOSPC, EDQUOT,
/// EFBIG), io_error.
[[nodiscard]] result<void> pwrite_full(int fd, std::span<const std::byte> bytes, std::uint64_t offset,
                                       const std::filesystem::path& path) noexcept;

/// The size of the open file `fd` (named `path` in messages). Errors: io_error.
[[nodiscard]] result<std::uint64_t> file_size(int fd, const std::filesystem::path& path) noexcept;

/// fsync of a directory, so that a file created, renamed or deleted in it survives a crash. Errors: io_error.
[[nodiscard]] result<void> sync_directory(const std::filesystem::path& dir) noexcept;

/// The whole content of the small file `path`, or nullopt when it does not exist. Errors: io_error, no_memory.
[[nodiscard]] result<std::optional<std::vector<std::byte>>> read_file_if_exists(
    const std::filesystem::path& path) noexcept;

/// Replaces `dir`/`name` with `bytes` atomically and durably: written to `name`.new with `mode` exactly,
/// fdatasync'd, renamed over `name`, the directory fsync'd. A crash leaves the old file or the new one.
/// Errors: io_error, no_space (the old file then stands).
[[nodiscard]] result<void> replace_file_durably(const std::filesystem::path& dir, std::string_view name,
                                                std::span<const std::byte> bytes, unsigned mode) noexcept;

/// Creates directory `dir` (and missing parents) with `mode` exactly, whatever the umask; an existing
/// directory is left as it is. Errors: as errno_error.
[[nodiscard]] result<void> make_store_directory(const std::filesystem::path& dir, std::filesystem::perms mode) noexcept;

/// Held while a store is created in the existing directory `dir`: an exclusive flock on the directory
/// itself. Two handles creating a store in one directory at once would otherwise interleave, one renaming
/// its new file over the other's -- already open, and written to -- or deleting the other's half-made
/// shards; with it the second gets busy, and each creator checks again, under the lock, whether a store
/// appeared meanwhile. Opening an existing store takes no such lock. A crash releases it with the process.
/// Errors: busy (another handle is creating a store there), io_error.
[[nodiscard]] result<unique_fd> lock_store_creation(const std::filesystem::path& dir) noexcept;

}  // namespace tessel
