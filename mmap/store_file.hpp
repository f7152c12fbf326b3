// store_file: a store's data file on disk -- creating it, locking it, reading its superblock and meta slots,
// and writing a meta slot durably. The tree blocks behind it are mapped by mapped_region.
//
// A store is a directory: `data.tessel` (superblock, meta slots, blocks) and `log/` (operation log
// segments). The data file is locked with flock for the life of the handle: exclusively by a writer, shared
// by read-only inspectors, so a second writer -- in this process or another -- gets `busy`.
//
// Thread safety: write_meta needs one caller at a time; the rest is read-only after open.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "tessel/error.hpp"

#include "mmap/store_format.hpp"

namespace tessel::mmap {

class store_file {
 public:
  static constexpr const char* data_file_name = "data.tessel";

  struct create_options {
    std::filesystem::perms directory_mode = std::filesystem::perms::owner_all;
    std::filesystem::perms file_mode = std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;
    /// A store that appeared in `dir` since the caller looked (another handle created it) is opened
    /// instead of refused.
    bool open_if_exists = false;
  };

  /// Creates a new store in `dir` (created when missing; it must not hold a store yet): a data file with a
  /// fresh superblock and meta slot 0 holding generation 1, an empty tree. The file appears under its name
  /// only when complete (written to a temporary name, synced, renamed, directory synced), all under the
  /// directory's creation lock (lock_store_creation).
  /// Errors: invalid_argument (a store exists there), busy (another handle is creating one, or has the
  /// one that appeared open), io_error, no_space.
  [[nodiscard]] static result<std::unique_ptr<store_file>> create(const std::filesystem::path& dir,
                                                                  const create_options& opts) noexcept;
  /// Opens the store in `dir`. Errors: not_found (no store there), busy (locked by another handle),
  /// corruption / version_mismatch (superblock), io_error.
  [[nodiscard]] static result<std::unique_ptr<store_file>> open(const std::filesystem::path& dir,
                                                                bool read_only) noexcept;
  [[nodiscard]] static bool exists(const std::filesystem::path& dir) noexcept;

  store_file(const store_file&) = delete;
  store_file& operator=(const store_file&) = delete;
  ~store_file();

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool read_only() const noexcept { return read_only_; }
  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }
  [[nodiscard]] const superblock& super() const noexcept { return super_; }
  /// File size when opened.
  [[nodiscard]] std::uint64_t size_at_open() const noexcept { return size_at_open_; }
  /// Each slot as read at open (or as last written), or why it is unusable.
  [[nodiscard]] const result<meta_slot>& slot(int index) const noexcept { return slots_[static_cast<unsigned>(index)]; }
  /// The valid slot with the larger generation. Errors: corruption naming both slots' problems.
  [[nodiscard]] result<int> newest_slot() const noexcept;

  /// Writes `m` into slot `index` and makes it durable (pwrite, then fdatasync). Errors: io_error, no_space.
  [[nodiscard]] result<void> write_meta(int index, const meta_slot& m) noexcept;

 private:
  store_file(std::filesystem::path dir, int fd, bool read_only) noexcept;
  [[nodiscard]] result<void> load() noexcept;

  std::filesystem::path dir_;
  int fd_;
  bool read_only_;
  superblock super_;
  std::uint64_t size_at_open_ = 0;
  std::array<result<meta_slot>, 2> slots_;
};

}  // namespace tessel::mmap
