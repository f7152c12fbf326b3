// The internals behind tessel::store and tessel::cursor: one adaptive radix tree in one DRAM region.
//
// Thread safety: as tessel::store (one writer; const calls concurrently only while nobody writes).
#pragma once

#include <memory>

#include "tessel/store.hpp"

#include "index/art.hpp"
#include "mmap/mapped_region.hpp"

namespace tessel::detail {

using dram_tree = index::art<mmap::mapped_region>;

class store_impl {
 public:
  explicit store_impl(std::unique_ptr<mmap::mapped_region> region) noexcept
      : region_(std::move(region)), tree_(*region_) {}

  [[nodiscard]] dram_tree& tree() noexcept { return tree_; }
  [[nodiscard]] const dram_tree& tree() const noexcept { return tree_; }
  [[nodiscard]] const mmap::mapped_region& region() const noexcept { return *region_; }

 private:
  std::unique_ptr<mmap::mapped_region> region_;
  dram_tree tree_;
};

class cursor_impl {
 public:
  explicit cursor_impl(index::art_cursor<mmap::mapped_region> c) noexcept : cursor_(std::move(c)) {}
  index::art_cursor<mmap::mapped_region> cursor_;
};

}  // namespace tessel::detail
