// tree_region: the Region (index/region.hpp) of a store's tree -- a mapped_region (dram and mmap stores) or
// a pool_region (pmem stores). One type, so a store has one tree type and its reads compile to the same code
// for every backend: the tree reads through base() alone. Only allocation picks the backend, with one
// well-predicted branch.
//
// Thread safety: as the region it fronts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tessel/error.hpp"

#include "common/platform.hpp"
#include "index/region.hpp"
#include "mmap/mapped_region.hpp"
#include "pmem/pool_region.hpp"

namespace tessel::detail {

class tree_region {
 public:
  explicit tree_region(mmap::mapped_region& mapped) noexcept : base_(mapped.base()), mapped_(&mapped) {}
  explicit tree_region(pmem::pool_region& pool) noexcept : base_(pool.base()), pool_(&pool) {}

  [[nodiscard]] std::uint64_t allocate(std::size_t size) noexcept {
    return TESSEL_LIKELY(mapped_ != nullptr) ? mapped_->allocate(size) : pool_->allocate(size);
  }
  // Placement (index/region.hpp placing_region). A pool has no frontier to ask for and no free lists to
  // order: its allocator places every block.
  void order_free_blocks() noexcept {
    if (mapped_ != nullptr) mapped_->order_free_blocks();
  }
  [[nodiscard]] std::uint64_t allocate_at_frontier(std::size_t size) noexcept {
    return mapped_ != nullptr ? mapped_->allocate_at_frontier(size) : pool_->allocate(size);
  }
  void deallocate(std::uint64_t offset, std::size_t size) noexcept {
    if (TESSEL_LIKELY(mapped_ != nullptr)) {
      mapped_->deallocate(offset, size);
    } else {
      pool_->deallocate(offset, size);
    }
  }
  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] index::region_usage usage() const noexcept { return mapped_ ? mapped_->usage() : pool_->usage(); }
  [[nodiscard]] error last_error() const noexcept { return mapped_ ? mapped_->last_error() : pool_->last_error(); }
  /// True when `p` points into the region (a view of a stored key or value).
  [[nodiscard]] bool contains(const void* p) const noexcept {
    return mapped_ ? mapped_->contains(p) : pool_->contains(p);
  }

  /// mapped_region::ensure_room. A pool answers yes: libpmemobj places every block, and a pool store's
  /// batch that runs out halfway makes the store refuse writes until reopened (store/deferred_sync.hpp).
  [[nodiscard]] result<void> ensure_room(std::uint64_t bytes) noexcept {
    return mapped_ != nullptr ? mapped_->ensure_room(bytes) : result<void>{};
  }
  /// The mapped region, or null in a pmem store.
  [[nodiscard]] mmap::mapped_region* mapped() const noexcept { return mapped_; }
  /// The pool, or null in a dram or mmap store.
  [[nodiscard]] pmem::pool_region* pool() const noexcept { return pool_; }

 private:
  std::byte* base_;
  mmap::mapped_region* mapped_ = nullptr;
  pmem::pool_region* pool_ = nullptr;
};

static_assert(index::region<tree_region>);

}  // namespace tessel::detail
