// The 8-byte header in front of every block of a store file: {u32 size, u32 checksum32 of the block}
// (docs/format.md §Blocks). Written when a commit seals the block, checked by recovery, open (when asked),
// reads (when asked) and `tessel check`.
//
// Thread safety: stateless; sealing writes the header, so only the committer seals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/checksum.hpp"
#include "common/le_codec.hpp"

namespace tessel::detail {

inline constexpr std::size_t block_header_bytes = 8;

/// Writes the header of the `size`-byte block at `offset`.
inline void seal_block(std::byte* base, std::uint64_t offset, std::size_t size) noexcept {
  std::byte* const block = base + offset;
  store_le(block - block_header_bytes, static_cast<std::uint32_t>(size));
  store_le(block - block_header_bytes + 4, checksum32({block, size}));
}

/// Why the block at `offset` (`size` bytes, as its owner says; `what` names it: "leaf", "node") does not
/// match its header; nullopt when it does.
[[nodiscard]] inline std::optional<std::string> block_problem(const std::byte* base, std::uint64_t offset,
                                                              std::size_t size, const char* what) {
  const std::byte* const block = base + offset;
  const auto stored_size = load_le<std::uint32_t>(block - block_header_bytes);
  if (stored_size != size) {
    return std::string(what) + " at offset " + std::to_string(offset) + " has a header for " +
           std::to_string(stored_size) + " bytes but needs " + std::to_string(size);
  }
  if (load_le<std::uint32_t>(block - block_header_bytes + 4) != checksum32({block, size})) {
    return std::string(what) + " at offset " + std::to_string(offset) + " fails its checksum";
  }
  return std::nullopt;
}

}  // namespace tessel::detail
