// Checksums for everything tessel writes to disk: XXH3-64 (xxHash), seedless, over raw bytes.
//
// One function so every format (superblock, meta slots, node blocks, log records) agrees on what "checksum"
// means; docs/format.md names it once. Callers that store 32 bits keep the low half.
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tessel {

/// XXH3-64 of `bytes`.
[[nodiscard]] std::uint64_t checksum64(std::span<const std::byte> bytes) noexcept;

/// The low 32 bits of checksum64, for formats that keep a 32-bit field.
[[nodiscard]] inline std::uint32_t checksum32(std::span<const std::byte> bytes) noexcept {
  return static_cast<std::uint32_t>(checksum64(bytes));
}

}  // namespace tessel
