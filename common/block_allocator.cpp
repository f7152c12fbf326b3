#include "common/block_allocator.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace tessel {

block_allocator::block_allocator(std::byte* base, std::uint64_t first_offset, std::uint64_t capacity, commit_fn commit)
    : base_(base),
      first_offset_(first_offset),
      capacity_(capacity),
      commit_(std::move(commit)),
      frontier_(first_offset),
      committed_end_(0) {}

std::uint64_t block_allocator::bump(std::size_t size) noexcept {
  if (size > capacity_ - frontier_) return 0;
  const std::uint64_t offset = frontier_;
  const std::uint64_t end = offset + size;
  if (end > committed_end_) {
    const std::uint64_t usable = commit_(end);
    if (usable < end) return 0;
    committed_end_ = usable;
  }
  frontier_ = end;
  return offset;
}

void block_allocator::push_free(std::size_t rounded, std::uint64_t offset) noexcept {
  const std::size_t c = rounded / granule;
  std::memcpy(base_ + offset, &free_heads_[c], sizeof(std::uint64_t));
  free_heads_[c] = offset;
  nonempty_[c / 64] |= std::uint64_t{1} << (c % 64);
  free_bytes_ += rounded;
}

std::uint64_t block_allocator::pop_free(std::size_t rounded) noexcept {
  const std::size_t c = rounded / granule;
  const std::uint64_t offset = free_heads_[c];
  if (offset == 0) return 0;
  std::memcpy(&free_heads_[c], base_ + offset, sizeof(std::uint64_t));
  if (free_heads_[c] == 0) nonempty_[c / 64] &= ~(std::uint64_t{1} << (c % 64));
  free_bytes_ -= rounded;
  return offset;
}

std::uint64_t block_allocator::split_larger(std::size_t rounded) noexcept {
  // Smallest non-empty class above `rounded`: best fit keeps big blocks whole for big requests.
  std::size_t c = rounded / granule + 1;
  while (c < small_classes) {
    const std::uint64_t bits = nonempty_[c / 64] & (~std::uint64_t{0} << (c % 64));
    if (bits != 0) {
      c = (c / 64) * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
      break;
    }
    c = (c / 64 + 1) * 64;
  }
  if (c >= small_classes) return 0;
  const std::size_t have = c * granule;
  const std::uint64_t offset = pop_free(have);
  push_free(have - rounded, offset + rounded);
  return offset;
}

std::uint64_t block_allocator::allocate(std::size_t size) noexcept {
  const std::size_t rounded = rounded_size(size);
  std::uint64_t offset = 0;
  if (rounded <= small_limit) {
    offset = pop_free(rounded);
    if (offset == 0) offset = split_larger(rounded);
    if (offset == 0) offset = bump(rounded);
  } else {
    offset = allocate_large(rounded);
  }
  if (offset != 0) live_bytes_ += rounded;
  return offset;
}

std::uint64_t block_allocator::allocate_at_frontier(std::size_t size) noexcept {
  const std::size_t rounded = rounded_size(size);
  const std::uint64_t offset = rounded <= small_limit ? bump(rounded) : bump_large(rounded);
  // A range (or a disk) with no room past the frontier may still have freed blocks: placement is a
  // preference, never a reason to fail where allocate() succeeds.
  if (offset == 0) return allocate(size);
  live_bytes_ += rounded;
  return offset;
}

void block_allocator::order_free_lists() noexcept {
  try {
    std::vector<std::uint64_t> offsets;
    for (std::size_t c = 1; c < small_classes; ++c) {
      if (free_heads_[c] == 0) continue;
      offsets.clear();
      for (std::uint64_t at = free_heads_[c]; at != 0;) {
        offsets.push_back(at);
        std::memcpy(&at, base_ + at, sizeof at);
      }
      std::sort(offsets.begin(), offsets.end());
      std::uint64_t next = 0;
      for (auto it = offsets.rbegin(); it != offsets.rend(); ++it) {
        std::memcpy(base_ + *it, &next, sizeof next);
        next = *it;
      }
      free_heads_[c] = next;
    }
  } catch (...) {
    // Out of memory: a class's list is only relinked once sorted in full, so every list is whole.
  }
}

void block_allocator::deallocate(std::uint64_t offset, std::size_t size) noexcept {
  const std::size_t rounded = rounded_size(size);
  live_bytes_ -= rounded;
  if (rounded <= small_limit) {
    push_free(rounded, offset);
  } else {
    deallocate_large(offset, rounded);
  }
}

std::uint64_t block_allocator::allocate_large(std::size_t size) noexcept {
  // Page-align the frontier so large blocks sit on page boundaries (and huge values on huge pages).
  if (auto it = free_large_.lower_bound(size); it != free_large_.end()) {
    const std::size_t have = it->first;
    const std::uint64_t offset = it->second;
    free_large_.erase(it);
    free_bytes_ -= have;
    if (have > size) {
      free_large_.emplace(have - size, offset + size);
      free_bytes_ += have - size;
    }
    return offset;
  }
  return bump_large(size);
}

std::uint64_t block_allocator::bump_large(std::size_t size) noexcept {
  const std::uint64_t aligned = (frontier_ + page_size - 1) & ~(page_size - 1);
  if (aligned > capacity_) return 0;
  const std::uint64_t gap = aligned - frontier_;
  if (gap != 0) {
    // The skipped bytes are lost to small classes; give them to the matching small free list.
    const std::uint64_t gap_offset = bump(gap);
    if (gap_offset == 0) return 0;
    live_bytes_ += gap;
    deallocate(gap_offset, gap);
  }
  return bump(size);
}

void block_allocator::deallocate_large(std::uint64_t offset, std::size_t size) noexcept {
  free_large_.emplace(size, offset);
  free_bytes_ += size;
}

void block_allocator::reset() noexcept {
  free_heads_.fill(0);
  nonempty_.fill(0);
  free_large_.clear();
  frontier_ = first_offset_;
  live_bytes_ = 0;
  free_bytes_ = 0;
}

bool block_allocator::adopt(const std::vector<extent>& in_use, std::uint64_t frontier,
                            std::uint64_t committed_end) noexcept {
  if (frontier < first_offset_ || frontier > capacity_ || frontier % granule != 0) return false;
  std::uint64_t cursor = first_offset_;
  for (const extent& e : in_use) {
    if (e.offset < cursor || e.size == 0 || e.size > frontier - e.offset || e.offset % granule != 0) return false;
    cursor = e.offset + e.size;
  }
  reset();
  frontier_ = frontier;
  committed_end_ = committed_end;
  cursor = first_offset_;
  for (const extent& e : in_use) {
    if (e.offset > cursor) free_gap(cursor, e.offset - cursor);
    live_bytes_ += e.size;
    cursor = e.offset + e.size;
  }
  if (frontier > cursor) free_gap(cursor, frontier - cursor);
  return true;
}

bool block_allocator::adopt_free(const std::vector<extent>& free, std::uint64_t frontier,
                                 std::uint64_t committed_end) noexcept {
  if (frontier < first_offset_ || frontier > capacity_ || frontier % granule != 0) return false;
  std::uint64_t cursor = first_offset_;
  std::uint64_t free_total = 0;
  for (const extent& e : free) {
    if (e.offset < cursor || e.offset > frontier || e.size == 0 || e.size > frontier - e.offset ||
        e.offset % granule != 0 || e.size % granule != 0) {
      return false;
    }
    cursor = e.offset + e.size;
    free_total += e.size;
  }
  reset();
  frontier_ = frontier;
  committed_end_ = committed_end;
  live_bytes_ = frontier - first_offset_ - free_total;
  for (const extent& e : free) free_gap(e.offset, e.size);
  return true;
}

void block_allocator::free_gap(std::uint64_t offset, std::uint64_t size) noexcept {
  if (size > small_limit) {
    const std::uint64_t pages = size & ~(page_size - 1);
    deallocate_large(offset, pages);
    offset += pages;
    size -= pages;
  }
  if (size != 0) push_free(size, offset);
}

std::vector<block_allocator::extent> block_allocator::free_extents() const {
  std::vector<extent> out;
  for (std::size_t c = 1; c < small_classes; ++c) {
    for (std::uint64_t o = free_heads_[c]; o != 0;) {
      out.push_back({o, c * granule});
      std::memcpy(&o, base_ + o, sizeof o);
    }
  }
  for (const auto& [size, offset] : free_large_) out.push_back({offset, size});
  return out;
}

}  // namespace tessel
