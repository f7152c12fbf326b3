// The 8-byte header in front of every block of a store file: {u32 size, u32 checksum32 of the block}
// (docs/format.md §Blocks). Written when a commit seals the block, checked by recovery, open (when asked)
// and `tessel check`.
//
// Thread safety: stateless; sealing writes the header, so only the committer seals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/checksum.hpp"
#include "common/le_codec.hpp"
#include "index/node_ref.hpp"

namespace tessel::detail {

inline constexpr std::size_t block_header_bytes = 8;

inline void seal_block(std::byte* base, index::node_ref r, std::size_t size) noexcept {
  std::byte* const block = base + r.offset();
  store_le(block - block_header_bytes, static_cast<std::uint32_t>(size));
  store_le(block - block_header_bytes + 4, checksum32({block, size}));
}

/// Why the block behind `r` (of `size` bytes, as its node says) does not match its header; nullopt when it does.
[[nodiscard]] inline std::optional<std::string> block_problem(const std::byte* base, index::node_ref r,
                                                              std::size_t size) {
  const std::byte* const block = base + r.offset();
  const auto stored_size = load_le<std::uint32_t>(block - block_header_bytes);
  if (stored_size != size) {
    return "block at offset " + std::to_string(r.offset()) + " has a header for " + std::to_string(stored_size) +
           " bytes but its node needs " + std::to_string(size);
  }
  if (load_le<std::uint32_t>(block - block_header_bytes + 4) != checksum32({block, size})) {
    return std::string(r.is_leaf() ? "leaf" : "node") + " at offset " + std::to_string(r.offset()) +
           " fails its checksum";
  }
  return std::nullopt;
}

}  // namespace tessel::detail
