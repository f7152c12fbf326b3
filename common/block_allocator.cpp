#include "common/block_allocator.hpp"

#include <cstring>
#include <utility>

namespace tessel {

namespace {
// Commit in steps of at least this much, so growth costs one system call per 64 MiB, not per block.
constexpr std::uint64_t commit_step = 64ULL << 20;
}  // namespace

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

}  // namespace tessel
