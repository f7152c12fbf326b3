// File plumbing for the operation log: an owning file descriptor, whole-buffer pread/pwrite, directory
// fsync, the log's errno translation, and the fault-injection hook tests use to make I/O fail on purpose.
//
// Thread safety: unique_fd is a value (one owner); the functions are safe from any thread on distinct
// descriptors, and pread/pwrite on one descriptor from several threads (they carry their own offset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string_view>

#include "tessel/error.hpp"

namespace tessel::oplog {

/// Where a fault hook may inject an error (log_options::inject_fault).
enum class fault_point : std::uint8_t {
  create_file = 1,  ///< opening a new segment file
  preallocate = 2,  ///< posix_fallocate of a new segment
  write = 3,        ///< writing records into a segment
  sync = 4,         ///< fdatasync of a segment
};

/// Tests only: called before each I/O step; a nonzero return is taken as that errno, as if the system
/// call had failed. May be called from the syncing thread and the reserving thread at once.
using fault_hook = std::function<int(fault_point)>;

/// Returns the errno to inject at `point`, or 0.
[[nodiscard]] inline int injected_fault(const fault_hook& hook, fault_point point) noexcept {
  return hook ? hook(point) : 0;
}

/// errno_error, except that EFBIG (a file past RLIMIT_FSIZE or the file system's limit) is no_space too:
/// for the log both mean "this record cannot be stored here", and the store handles them alike.
[[nodiscard]] error log_errno_error(int err, std::string_view context);

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
  /// Closes the descriptor. A close error is ignored: the log never relies on close to report write
  /// errors, it fsyncs first.
  void reset() noexcept;

 private:
  int fd_ = -1;
};

/// Opens `path` with `flags` (O_CLOEXEC added) and `mode`. Errors: as log_errno_error.
[[nodiscard]] result<unique_fd> open_file(const std::filesystem::path& path, int flags, unsigned mode = 0) noexcept;

/// Reads exactly bytes.size() bytes at `offset`, retrying short reads and EINTR. Errors: io_error, also
/// when the file ends before offset + bytes.size().
[[nodiscard]] result<void> pread_full(int fd, std::span<std::byte> bytes, std::uint64_t offset,
                                      const std::filesystem::path& path) noexcept;

/// Writes all of `bytes` at `offset`, retrying short writes and EINTR. Errors: no_space (ENOSPC, EDQUOT,
/// EFBIG), io_error.
[[nodiscard]] result<void> pwrite_full(int fd, std::span<const std::byte> bytes, std::uint64_t offset,
                                       const std::filesystem::path& path) noexcept;

/// fsync of a directory, so that a file created, renamed or deleted in it survives a crash. Errors: io_error.
[[nodiscard]] result<void> sync_directory(const std::filesystem::path& dir) noexcept;

}  // namespace tessel::oplog
