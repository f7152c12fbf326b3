// mapped_region: the Region (index/region.hpp) every store uses. It reserves its whole virtual range up
// front (PROT_NONE: no memory or commit charge), so the base never moves, and backs the range as the tree
// grows with either
//   - anonymous memory (dram stores), with transparent huge pages requested, or
//   - a file mapped shared (mmap stores): the file is grown with posix_fallocate first, so a full disk is
//     a no_space error at allocation instead of a SIGBUS at a later page fault.
// Blocks come from a block_allocator. In a file, each block is preceded by an 8-byte block header (size and
// checksum, docs/format.md §Blocks) that commits fill in; the offset handed to the tree is the payload's.
//
// Durability (file backing): persist(ranges) makes the named byte ranges durable. In the normal mode the
// mapping is shared and persist is one fdatasync, which also writes out every other dirty page -- harmless,
// because between commits the only pages written are new blocks and free blocks. In power-loss simulation
// mode (tests) the mapping is private: nothing reaches the file unless persist copies it there, so a crash
// test sees exactly what the commit protocol made durable, not what the page cache happened to write.
//
// Thread safety: allocate/deallocate/adopt need one writer; base() and reading blocks are safe from any
// thread; persist may run while the writer allocates, as long as the ranges are immutable blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "tessel/error.hpp"

#include "common/block_allocator.hpp"
#include "common/platform.hpp"
#include "index/region.hpp"

namespace tessel::mmap {

/// A byte range of the region: [offset, offset + size).
struct byte_range {
  std::uint64_t offset;
  std::uint64_t size;
};

class mapped_region {
 public:
  /// Bytes before each block of a file region (u32 size, u32 checksum).
  static constexpr std::size_t file_block_header = 8;

  /// A region in anonymous memory reserving `reserve_bytes` of address space (0: the default, 1 TiB, or
  /// 64 GiB under sanitizers). Errors: no_memory when the kernel refuses the reservation.
  [[nodiscard]] static result<std::unique_ptr<mapped_region>> create_anonymous(std::size_t reserve_bytes,
                                                                               bool huge_pages) noexcept;

  struct file_options {
    std::size_t reserve_bytes = 0;     ///< address space for the file to grow into; 0: the default
    bool simulate_power_loss = false;  ///< private mapping; only persist() reaches the file (tests)
  };
  /// Maps the open file `fd` (not owned; it must stay open while the region lives), whose first
  /// `file_size` bytes exist, with blocks from `first_block` on. The allocator starts empty with its
  /// frontier at first_block; a store then adopt()s the blocks its durable tree reaches.
  /// Errors: io_error (mapping refused), no_memory, invalid_argument (file larger than the reservation).
  [[nodiscard]] static result<std::unique_ptr<mapped_region>> map_file(int fd, std::uint64_t file_size,
                                                                       std::uint64_t first_block,
                                                                       const file_options& opts) noexcept;

  mapped_region(const mapped_region&) = delete;
  mapped_region& operator=(const mapped_region&) = delete;
  ~mapped_region();

  // ---- The Region concept ----

  [[nodiscard]] std::uint64_t allocate(std::size_t size) noexcept {
    return payload_of(allocator_.allocate(size + header_bytes_), size);
  }
  void deallocate(std::uint64_t offset, std::size_t size) noexcept {
    allocator_.deallocate(offset - header_bytes_, size + header_bytes_);
  }
  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] index::region_usage usage() const noexcept;
  [[nodiscard]] error last_error() const noexcept { return last_error_; }

  // ---- Beyond the concept ----

  /// block_allocator::order_free_lists: allocate() then reuses freed blocks lowest address first.
  void order_free_blocks() noexcept { allocator_.order_free_lists(); }
  /// allocate() at the frontier, never from freed blocks (block_allocator::allocate_at_frontier).
  [[nodiscard]] std::uint64_t allocate_at_frontier(std::size_t size) noexcept {
    return payload_of(allocator_.allocate_at_frontier(size + header_bytes_), size);
  }

  /// Makes room, before a run of allocations `bytes` long in all, so that they need not grow the region
  /// halfway through (a batch of writes, store/batch_ops.hpp): grows it now when the committed space past
  /// the frontier holds less. A region that cannot grow still answers yes when its free blocks hold four
  /// times `bytes` (they probably serve; nothing promises their sizes fit). Errors: no_space (the
  /// reservation, the disk or a file size limit is full), io_error.
  [[nodiscard]] result<void> ensure_room(std::uint64_t bytes) noexcept;
  /// Forgets every block; the memory stays committed for reuse.
  void reset() noexcept { allocator_.reset(); }
  [[nodiscard]] bool file_backed() const noexcept { return fd_ >= 0; }
  /// The address space reserved from base(): what the region may grow into.
  [[nodiscard]] std::size_t reserved_bytes() const noexcept { return reserved_; }
  /// True when `p` points into the region's reserved range (a view of a stored key or value).
  [[nodiscard]] bool contains(const void* p) const noexcept {
    const auto* b = static_cast<const std::byte*>(p);
    return b >= base_ && b < base_ + reserved_;
  }
  /// 8 in a file region, 0 in anonymous memory.
  [[nodiscard]] std::size_t block_header_bytes() const noexcept { return header_bytes_; }
  /// The allocator extent of the block whose payload (`size` bytes) is at `offset`.
  [[nodiscard]] block_allocator::extent extent_of(std::uint64_t offset, std::size_t size) const noexcept {
    return {offset - header_bytes_, block_allocator::rounded_size(size + header_bytes_)};
  }
  /// Rebuilds the allocator: `in_use` (sorted, payload extents via extent_of) live, the gaps free.
  /// Errors: corruption when the extents overlap or lie outside the file.
  [[nodiscard]] result<void> adopt(const std::vector<block_allocator::extent>& in_use, std::uint64_t frontier) noexcept;
  /// Rebuilds the allocator from the free extents (sorted; allocator extents) a clean close recorded.
  /// Errors: corruption when they overlap or lie outside the file.
  [[nodiscard]] result<void> adopt_free(const std::vector<block_allocator::extent>& free,
                                        std::uint64_t frontier) noexcept;
  [[nodiscard]] std::uint64_t frontier() const noexcept { return allocator_.frontier(); }
  /// Bytes of the file mapped so far (its size); 0 for anonymous memory.
  [[nodiscard]] std::uint64_t file_size() const noexcept { return fd_ >= 0 ? committed_ : 0; }
  [[nodiscard]] const block_allocator& allocator() const noexcept { return allocator_; }

  /// Runs `hook(address, bytes)` on each range a file region maps as it grows: a new MAP_FIXED mapping does
  /// not inherit the memory policy of the reservation it replaces, so a region bound to a NUMA node binds
  /// each new range (sharded stores). Runs where growth happens: inside an allocation, under the writer's
  /// exclusion. REQUIRES: set before the region is shared.
  void on_mapped(std::function<void(std::byte*, std::size_t)> hook) noexcept { mapped_hook_ = std::move(hook); }

  /// Makes `ranges` of a file region durable (see the file comment). Errors: io_error, no_space.
  [[nodiscard]] result<void> persist(std::span<const byte_range> ranges) noexcept;

 private:
  mapped_region(std::byte* base, std::size_t reserved, std::uint64_t first_block, int fd, std::uint64_t file_size,
                bool private_mapping);
  std::uint64_t grow(std::uint64_t end) noexcept;
  std::uint64_t grow_anonymous(std::uint64_t end) noexcept;
  std::uint64_t grow_file(std::uint64_t end) noexcept;
  std::uint64_t grow_past_read_only_file(std::uint64_t end) noexcept;
  void note_allocation_failure(std::size_t size) noexcept;
  /// The payload offset of a block the allocator placed at `block` for a request of `size`; 0 (with the
  /// reason noted) when it placed none.
  [[nodiscard]] std::uint64_t payload_of(std::uint64_t block, std::size_t size) noexcept {
    if (TESSEL_UNLIKELY(block == 0)) {
      note_allocation_failure(size);
      return 0;
    }
    return block + header_bytes_;
  }

  std::byte* base_;
  std::size_t reserved_;
  int fd_;                // -1: anonymous memory
  bool private_mapping_;  // power-loss simulation, or a read-only store
  bool read_only_file_;   // opened O_RDONLY: it can neither grow nor be written
  std::size_t header_bytes_;
  std::uint64_t committed_;  // usable bytes from base_ (file: the file size)
  block_allocator allocator_;
  std::function<void(std::byte*, std::size_t)> mapped_hook_;  // on_mapped
  error last_error_;
};

static_assert(index::region<mapped_region>);

}  // namespace tessel::mmap
