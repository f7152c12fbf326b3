// dram_region: a Region in anonymous memory. Reserves its whole virtual range up front (PROT_NONE, so no
// memory or commit charge), makes it readable and writable chunk by chunk as the tree grows, and asks for
// transparent huge pages, so lookups miss the TLB less. The base never moves.
//
// Thread safety: allocate/deallocate need one writer; base() and reading blocks are safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tessel/error.hpp"

#include "common/block_allocator.hpp"
#include "common/platform.hpp"
#include "index/region.hpp"

namespace tessel::index {

class dram_region {
 public:
  /// Reserves `reserve_bytes` of address space. Errors: no_memory when the kernel refuses the reservation.
  [[nodiscard]] static result<std::unique_ptr<dram_region>> create(std::size_t reserve_bytes, bool huge_pages) noexcept;

  dram_region(const dram_region&) = delete;
  dram_region& operator=(const dram_region&) = delete;
  ~dram_region();

  [[nodiscard]] std::uint64_t allocate(std::size_t size) noexcept {
    const std::uint64_t offset = allocator_.allocate(size);
    if (TESSEL_UNLIKELY(offset == 0)) note_allocation_failure(size);
    return offset;
  }
  void deallocate(std::uint64_t offset, std::size_t size) noexcept { allocator_.deallocate(offset, size); }
  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] region_usage usage() const noexcept;
  [[nodiscard]] error last_error() const noexcept { return last_error_; }
  /// Forgets every block; the memory stays committed for reuse.
  void reset() noexcept { allocator_.reset(); }

 private:
  dram_region(std::byte* base, std::size_t reserved);
  bool commit(std::uint64_t end) noexcept;
  void note_allocation_failure(std::size_t size) noexcept;

  std::byte* base_;
  std::size_t reserved_;
  std::uint64_t committed_ = 0;
  block_allocator allocator_;
  error last_error_;
};

static_assert(region<dram_region>);

}  // namespace tessel::index
