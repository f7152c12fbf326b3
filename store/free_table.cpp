#include "store/free_table.hpp"

#include <algorithm>
#include <string>

#include "common/le_codec.hpp"
#include "mmap/store_format.hpp"
#include "store/block_header.hpp"

namespace tessel::detail {

namespace {

// u64 count, then count x {u64 offset, u64 size}.
constexpr std::size_t entry_bytes = 16;
constexpr std::size_t count_bytes = 8;

}  // namespace

result<free_table_ref> write_free_table(mmap::mapped_region& region) noexcept {
  try {
    // Allocating the table may split a free extent, so leave room for a few more than there are now.
    std::size_t room = region.allocator().free_extents().size() + 4;
    for (;;) {
      const std::size_t bytes = count_bytes + room * entry_bytes;
      const std::uint64_t offset = region.allocate(bytes);
      if (offset == 0) return tl::unexpected(region.last_error());
      std::vector<block_allocator::extent> free = region.allocator().free_extents();
      if (free.size() > room) {
        region.deallocate(offset, bytes);
        room = free.size() + 4;
        continue;
      }
      std::sort(free.begin(), free.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
      std::byte* const p = region.base() + offset;
      store_le<std::uint64_t>(p, free.size());
      for (std::size_t i = 0; i < free.size(); ++i) {
        store_le(p + count_bytes + i * entry_bytes, free[i].offset);
        store_le(p + count_bytes + i * entry_bytes + 8, free[i].size);
      }
      // Unused room stays zero-filled, so the checksum covers a deterministic block.
      std::fill(p + count_bytes + free.size() * entry_bytes, p + bytes, std::byte{0});
      seal_block(region.base(), offset, bytes);
      return free_table_ref{offset, bytes};
    }
  } catch (...) {
    return make_error(errc::no_memory, "listing free space for a clean close");
  }
}

result<std::vector<block_allocator::extent>> read_free_table(const mmap::mapped_region& region, free_table_ref ref,
                                                             std::uint64_t frontier) noexcept {
  const std::string what = "free table at offset " + std::to_string(ref.offset);
  if (ref.offset < mmap::first_block_offset + block_header_bytes || ref.offset % 8 != 0 || ref.bytes < count_bytes ||
      ref.offset > frontier || ref.bytes > frontier - ref.offset) {
    return make_error(errc::corruption, what + " lies outside the tree's blocks");
  }
  // The frontier comes from the meta slot; a file cut short ends before it, and past its end the region is
  // reserved address space that faults on a read.
  if (const std::uint64_t mapped = region.file_size(); mapped != 0 && ref.offset + ref.bytes > mapped) {
    return make_error(errc::corruption, what + " lies past the end of the file (" + std::to_string(mapped) + " bytes)");
  }
  if (auto problem = block_problem(region.base(), ref.offset, ref.bytes, "free table")) {
    return make_error(errc::corruption, *problem);
  }
  const std::byte* const p = region.base() + ref.offset;
  const auto count = load_le<std::uint64_t>(p);
  if (count > (ref.bytes - count_bytes) / entry_bytes)
    return make_error(errc::corruption, what + " counts too many extents");
  try {
    std::vector<block_allocator::extent> free(count);
    for (std::size_t i = 0; i < count; ++i) {
      free[i].offset = load_le<std::uint64_t>(p + count_bytes + i * entry_bytes);
      free[i].size = load_le<std::uint64_t>(p + count_bytes + i * entry_bytes + 8);
    }
    return free;
  } catch (...) {
    return make_error(errc::no_memory, "reading the free table");
  }
}

}  // namespace tessel::detail
