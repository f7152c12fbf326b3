#include "index/dram_region.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <sys/mman.h>

#include "common/errno_error.hpp"

namespace tessel::index {

namespace {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t default_reserve = 64ULL << 30;  // sanitizers lay out the address space more tightly
#else
constexpr std::size_t default_reserve = 1ULL << 40;
#endif
constexpr std::size_t huge_page = 2ULL << 20;
// Offset 0 means "empty reference"; the first block starts one cache line in.
constexpr std::uint64_t first_block = 64;
}  // namespace

result<std::unique_ptr<dram_region>> dram_region::create(std::size_t reserve_bytes, bool huge_pages) noexcept {
  if (reserve_bytes == 0) reserve_bytes = default_reserve;
  reserve_bytes = (reserve_bytes + huge_page - 1) & ~(huge_page - 1);
  void* p = ::mmap(nullptr, reserve_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    return tl::unexpected(
        errno_error(e, "reserving " + std::to_string(reserve_bytes >> 20) + " MiB of address space for a dram region"));
  }
  auto* base = static_cast<std::byte*>(p);
  if (huge_pages) {
    // THP in "madvise" mode backs only ranges that ask; a refusal just leaves 4 KiB pages.
    (void)::madvise(base, reserve_bytes, MADV_HUGEPAGE);
  }
  try {
    return std::unique_ptr<dram_region>(new dram_region(base, reserve_bytes));
  } catch (...) {
    ::munmap(base, reserve_bytes);
    return make_error(errc::no_memory, "allocating a dram region");
  }
}

dram_region::dram_region(std::byte* base, std::size_t reserved)
    : base_(base),
      reserved_(reserved),
      allocator_(base, first_block, reserved, [this](std::uint64_t end) { return commit(end); }) {}

dram_region::~dram_region() { ::munmap(base_, reserved_); }

bool dram_region::commit(std::uint64_t end) noexcept {
  if (end <= committed_) return true;
  // Commit whole huge pages so THP can back them.
  std::uint64_t new_end = (end + huge_page - 1) & ~(huge_page - 1);
  if (new_end > reserved_) new_end = reserved_;
  if (::mprotect(base_ + committed_, new_end - committed_, PROT_READ | PROT_WRITE) != 0) {
    last_error_ = errno_error(errno, "committing dram region memory");
    return false;
  }
  committed_ = new_end;
  return true;
}

void dram_region::note_allocation_failure(std::size_t size) noexcept {
  if (allocator_.frontier() + block_allocator::rounded_size(size) > reserved_) {
    last_error_ = error(errc::no_space, "dram region reservation of " + std::to_string(reserved_ >> 20) +
                                            " MiB is exhausted; raise options.reserve_bytes");
  }
  // Otherwise commit() already recorded why.
}

region_usage dram_region::usage() const noexcept {
  return {allocator_.live_bytes(), allocator_.free_bytes(), allocator_.frontier()};
}

}  // namespace tessel::index
