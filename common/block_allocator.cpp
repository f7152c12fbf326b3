#include "common/block_allocator.hpp"

#include <cstring>
#include <utility>

namespace tessel {

namespace {
// Commit in steps of at least this much, so growth costs one system call per 64 MiB, not per block.
constexpr std::uint64_t commit_step = 64ULL << 20;
}  // namespace

block_allocator::block_allocator(std::byte* base, std::uint64_t first_offset, std::uint64_t capacity,
                                 commit_fn commit)
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
    std::uint64_t want = committed_end_ + commit_step;
    if (want < end) want = end;
    if (want > capacity_) want = capacity_;
    if (!commit_(want)) {
      if (!commit_(end)) return 0;
      want = end;
    }
    committed_end_ = want;
  }
  frontier_ = end;
  return offset;
}

std::uint64_t block_allocator::allocate(std::size_t size) noexcept {
  const std::size_t rounded = rounded_size(size);
  std::uint64_t offset = 0;
  if (rounded <= small_limit) {
    std::uint64_t& head = free_heads_[rounded / granule];
    if (head != 0) {
      offset = head;
      std::memcpy(&head, base_ + offset, sizeof head);
      free_bytes_ -= rounded;
    } else {
      offset = bump(rounded);
    }
  } else {
    offset = allocate_large(rounded);
  }
  if (offset != 0) live_bytes_ += rounded;
  return offset;
}

void block_allocator::deallocate(std::uint64_t offset, std::size_t size) noexcept {
  const std::size_t rounded = rounded_size(size);
  live_bytes_ -= rounded;
  if (rounded <= small_limit) {
    std::uint64_t& head = free_heads_[rounded / granule];
    std::memcpy(base_ + offset, &head, sizeof head);
    head = offset;
    free_bytes_ += rounded;
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
  free_large_.clear();
  frontier_ = first_offset_;
  live_bytes_ = 0;
  free_bytes_ = 0;
}

}  // namespace tessel
