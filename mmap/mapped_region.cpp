#include "mmap/mapped_region.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/errno_error.hpp"
#include "common/file_io.hpp"

namespace tessel::mmap {

namespace {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t default_reserve = 64ULL << 30;  // sanitizers lay out the address space more tightly
#else
constexpr std::size_t default_reserve = 1ULL << 40;
#endif
constexpr std::size_t huge_page = 2ULL << 20;
// Anonymous memory grows in 64 MiB steps: one system call per 64 MiB, not per block.
constexpr std::uint64_t anonymous_step = 64ULL << 20;
// A file grows by a quarter of its size, at least 1 MiB and at most 256 MiB: small stores stay small,
// large ones grow in few steps.
constexpr std::uint64_t file_step_min = 1ULL << 20;
constexpr std::uint64_t file_step_max = 256ULL << 20;
// Offset 0 means "empty reference"; anonymous blocks start one cache line in.
constexpr std::uint64_t anonymous_first_block = 64;

/// `bytes` of address space starting on a huge-page boundary: a huge page can back a range only where the
/// address (and, for a file, the file offset) is 2 MiB aligned, and offsets in a region start at its base.
[[nodiscard]] result<std::byte*> reserve(std::size_t bytes) noexcept {
  void* p = ::mmap(nullptr, bytes + huge_page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return tl::unexpected(
        errno_error(errno, "reserving " + std::to_string(bytes >> 20) + " MiB of address space for a region"));
  }
  auto* const start = static_cast<std::byte*>(p);
  const auto misalign = reinterpret_cast<std::uintptr_t>(start) & (huge_page - 1);
  std::byte* const base = misalign == 0 ? start : start + (huge_page - misalign);
  if (base != start) ::munmap(start, static_cast<std::size_t>(base - start));
  ::munmap(base + bytes, static_cast<std::size_t>(start + bytes + huge_page - (base + bytes)));
  return base;
}

[[nodiscard]] std::size_t reservation(std::size_t asked) noexcept {
  if (asked == 0) asked = default_reserve;
  return (asked + huge_page - 1) & ~(huge_page - 1);
}

[[nodiscard]] bool map_file_range(std::byte* base, int fd, std::uint64_t from, std::uint64_t to, bool private_mapping,
                                  bool populate = false) noexcept {
  if (to <= from) return true;
  const int flags = MAP_FIXED | (private_mapping ? MAP_PRIVATE : MAP_SHARED) | (populate ? MAP_POPULATE : 0);
  void* p = ::mmap(base + from, to - from, PROT_READ | PROT_WRITE, flags, fd, static_cast<off_t>(from));
  if (p == MAP_FAILED) return false;
  // Where the file system caches files in large folios (ext4 and XFS on recent kernels), this asks for
  // 2 MiB ones mapped by one TLB entry each: lookups in a large store miss the TLB far less. Elsewhere the
  // kernel ignores it.
  (void)::madvise(p, to - from, MADV_HUGEPAGE);
  return true;
}

}  // namespace

result<std::unique_ptr<mapped_region>> mapped_region::create_anonymous(std::size_t reserve_bytes,
                                                                       bool huge_pages) noexcept {
  const std::size_t bytes = reservation(reserve_bytes);
  auto base = reserve(bytes);
  if (!base) return tl::unexpected(std::move(base.error()));
  if (huge_pages) {
    // THP in "madvise" mode backs only ranges that ask; a refusal just leaves 4 KiB pages.
    (void)::madvise(*base, bytes, MADV_HUGEPAGE);
  }
  try {
    return std::unique_ptr<mapped_region>(new mapped_region(*base, bytes, anonymous_first_block, -1, 0, false));
  } catch (...) {
    ::munmap(*base, bytes);
    return make_error(errc::no_memory, "allocating a region");
  }
}

result<std::unique_ptr<mapped_region>> mapped_region::map_file(int fd, std::uint64_t file_size,
                                                               std::uint64_t first_block,
                                                               const file_options& opts) noexcept {
  const std::size_t bytes = reservation(opts.reserve_bytes);
  if (file_size > bytes) {
    return make_error(errc::invalid_argument, "the store file (" + std::to_string(file_size >> 20) +
                                                  " MiB) is larger than the address space reserved for it (" +
                                                  std::to_string(bytes >> 20) + " MiB); raise options.reserve_bytes");
  }
  auto base = reserve(bytes);
  if (!base) return tl::unexpected(std::move(base.error()));
  // Populate a shared mapping of the whole file at open: recovery reads every block, and one batched
  // pre-fault is far cheaper than a fault per page (most of an open's time, measured). Not a private
  // one: populating a writable private mapping copies every page.
  if (!map_file_range(*base, fd, 0, file_size, opts.simulate_power_loss, !opts.simulate_power_loss)) {
    const int e = errno;
    ::munmap(*base, bytes);
    return tl::unexpected(errno_error(e, "mapping the store file"));
  }
  try {
    return std::unique_ptr<mapped_region>(
        new mapped_region(*base, bytes, first_block, fd, file_size, opts.simulate_power_loss));
  } catch (...) {
    ::munmap(*base, bytes);
    return make_error(errc::no_memory, "allocating a region");
  }
}

mapped_region::mapped_region(std::byte* base, std::size_t reserved, std::uint64_t first_block, int fd,
                             std::uint64_t file_size, bool private_mapping)
    : base_(base),
      reserved_(reserved),
      fd_(fd),
      private_mapping_(private_mapping),
      read_only_file_(fd >= 0 && (::fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY),
      header_bytes_(fd >= 0 ? file_block_header : 0),
      committed_(file_size),
      allocator_(base, first_block, reserved, [this](std::uint64_t end) { return grow(end); }) {}

mapped_region::~mapped_region() { ::munmap(base_, reserved_); }

std::uint64_t mapped_region::grow(std::uint64_t end) noexcept {
  if (end <= committed_) return committed_;
  return fd_ >= 0 ? grow_file(end) : grow_anonymous(end);
}

std::uint64_t mapped_region::grow_anonymous(std::uint64_t end) noexcept {
  // Commit whole huge pages so THP can back them.
  std::uint64_t new_end = std::max(end, committed_ + anonymous_step);
  new_end = std::min<std::uint64_t>((new_end + huge_page - 1) & ~(huge_page - 1), reserved_);
  if (::mprotect(base_ + committed_, new_end - committed_, PROT_READ | PROT_WRITE) != 0) {
    // Retry with just what is needed before giving up.
    new_end = std::min<std::uint64_t>((end + huge_page - 1) & ~(huge_page - 1), reserved_);
    if (::mprotect(base_ + committed_, new_end - committed_, PROT_READ | PROT_WRITE) != 0) {
      last_error_ = errno_error(errno, "committing region memory");
      return 0;
    }
  }
  committed_ = new_end;
  return committed_;
}

std::uint64_t mapped_region::grow_past_read_only_file(std::uint64_t end) noexcept {
  // A read-only store replaying its log into private memory may need more room than the file holds; the
  // file must not change (and cannot: fallocate on an O_RDONLY descriptor is EBADF), and file pages past
  // its end fault. Anonymous pages serve from the first page wholly past the end.
  const std::uint64_t from = (committed_ + block_allocator::page_size - 1) & ~(block_allocator::page_size - 1);
  const std::uint64_t new_end =
      std::min<std::uint64_t>((end + block_allocator::page_size - 1) & ~(block_allocator::page_size - 1), reserved_);
  if (new_end > from && ::mmap(base_ + from, new_end - from, PROT_READ | PROT_WRITE,
                               MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
    last_error_ = errno_error(errno, "mapping memory for a read-only store's replay");
    return 0;
  }
  committed_ = std::max(committed_, new_end);
  return committed_;
}

std::uint64_t mapped_region::grow_file(std::uint64_t end) noexcept {
  if (read_only_file_) return grow_past_read_only_file(end);
  const std::uint64_t step = std::clamp(committed_ / 4, file_step_min, file_step_max);
  for (std::uint64_t new_end : {std::max(end, committed_ + step), end}) {
    new_end = std::min<std::uint64_t>((new_end + block_allocator::page_size - 1) & ~(block_allocator::page_size - 1),
                                      reserved_);
    // Allocate the disk blocks before mapping them: writing a page of a sparse file on a full disk is a
    // SIGBUS, a failed fallocate is an error we can return.
    const int rc = ::posix_fallocate(fd_, static_cast<off_t>(committed_), static_cast<off_t>(new_end - committed_));
    if (rc != 0) {
      last_error_ = errno_error(rc, "growing the store file to " + std::to_string(new_end) + " bytes");
      // A size limit on the file (RLIMIT_FSIZE, the file system's largest file) leaves the store as full
      // as a full disk does: callers see no_space, as documented for writes.
      if (rc == EFBIG) last_error_ = error(errc::no_space, std::string(last_error_.message()));
      continue;
    }
    // Growth adds whole pages, but a file cut short by damage may end inside a page, and MAP_FIXED needs a
    // page-aligned start: map that last page again, keeping its bytes (in a private mapping they may hold
    // writes the file has not seen).
    const std::uint64_t map_from = committed_ & ~(block_allocator::page_size - 1);
    const std::size_t partial = committed_ - map_from;
    std::array<std::byte, block_allocator::page_size> kept;
    if (partial != 0) std::memcpy(kept.data(), base_ + map_from, partial);
    if (!map_file_range(base_, fd_, map_from, new_end, private_mapping_)) {
      last_error_ = errno_error(errno, "mapping the grown store file");
      return 0;
    }
    if (partial != 0) std::memcpy(base_ + map_from, kept.data(), partial);
    if (mapped_hook_) mapped_hook_(base_ + map_from, new_end - map_from);
    committed_ = new_end;
    return committed_;
  }
  return 0;
}

result<void> mapped_region::ensure_room(std::uint64_t bytes) noexcept {
  const std::uint64_t end = allocator_.frontier() + bytes;
  if (end <= committed_) return {};
  if (end <= reserved_ && grow(end) >= end) return {};
  if (allocator_.free_bytes() / 4 >= bytes) return {};
  if (end > reserved_) {
    return make_error(errc::no_space, "region reservation of " + std::to_string(reserved_ >> 20) +
                                          " MiB has no room for " + std::to_string(bytes) +
                                          " more bytes; raise options.reserve_bytes");
  }
  return tl::unexpected(last_error_);
}

void mapped_region::note_allocation_failure(std::size_t size) noexcept {
  if (allocator_.frontier() + block_allocator::rounded_size(size + header_bytes_) > reserved_) {
    last_error_ = error(errc::no_space, "region reservation of " + std::to_string(reserved_ >> 20) +
                                            " MiB is exhausted; raise options.reserve_bytes");
  }
  // Otherwise grow() already recorded why.
}

index::region_usage mapped_region::usage() const noexcept {
  return {allocator_.live_bytes(), allocator_.free_bytes(), allocator_.frontier()};
}

result<void> mapped_region::adopt(const std::vector<block_allocator::extent>& in_use, std::uint64_t frontier) noexcept {
  if (frontier > committed_) {
    return make_error(errc::corruption, "the durable tree ends at byte " + std::to_string(frontier) +
                                            " but the store file has only " + std::to_string(committed_));
  }
  if (!allocator_.adopt(in_use, frontier, committed_)) {
    return make_error(errc::corruption, "blocks of the durable tree overlap or lie outside the store file");
  }
  return {};
}

result<void> mapped_region::adopt_free(const std::vector<block_allocator::extent>& free,
                                       std::uint64_t frontier) noexcept {
  if (frontier > committed_) {
    return make_error(errc::corruption, "the free table ends at byte " + std::to_string(frontier) +
                                            " but the store file has only " + std::to_string(committed_));
  }
  if (!allocator_.adopt_free(free, frontier, committed_)) {
    return make_error(errc::corruption, "the free table's extents overlap or lie outside the store file");
  }
  return {};
}

result<void> mapped_region::persist(std::span<const byte_range> ranges) noexcept {
  if (fd_ < 0) return {};
  if (private_mapping_) {
    // Only what the protocol names reaches the file.
    for (const byte_range& r : ranges) {
      if (auto ok = pwrite_full(fd_, {base_ + r.offset, r.size}, r.offset, "the store file"); !ok) return ok;
    }
  }
  if (::fdatasync(fd_) != 0) return tl::unexpected(errno_error(errno, "syncing the store file"));
  return {};
}

}  // namespace tessel::mmap
