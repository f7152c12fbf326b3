// The checkpoint file's layout (docs/format.md §Checkpoint file): a 64-byte header, frames of entries each
// with a checksum, an empty frame that ends them, and a 32-byte trailer. Little endian throughout.
//
// Thread safety: values and pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "tessel/error.hpp"

namespace tessel::detail {

inline constexpr std::array<char, 8> checkpoint_magic = {'T', 'E', 'S', 'S', 'C', 'K', 'P', 'T'};
inline constexpr std::uint32_t checkpoint_format_version = 1;
inline constexpr std::size_t checkpoint_header_bytes = 64;
inline constexpr std::size_t frame_head_bytes = 16;  // u32 payload bytes, u32 entries, u64 checksum64
inline constexpr std::size_t entry_head_bytes = 8;   // u32 key length, u32 value length
inline constexpr std::size_t checkpoint_trailer_bytes = 32;
/// A frame is closed once its payload reaches this size; one entry larger than it gets a frame of its own.
inline constexpr std::size_t frame_target_bytes = 1 << 20;

struct checkpoint_header {
  std::uint64_t at_seq = 0;
  std::uint64_t keys = 0;
  std::uint64_t data_bytes = 0;
  std::uint64_t created_unix_ns = 0;
};

struct checkpoint_trailer {
  std::uint64_t keys = 0;
  std::uint64_t data_bytes = 0;
  std::uint64_t frames = 0;
};

void encode_header(const checkpoint_header& h, std::span<std::byte, checkpoint_header_bytes> out) noexcept;
/// Errors: corruption (magic, checksum), version_mismatch. `what` names the file in messages.
[[nodiscard]] result<checkpoint_header> decode_header(std::span<const std::byte, checkpoint_header_bytes> in,
                                                      const std::string& what) noexcept;

/// The trailer binds itself to the header by including the header's checksum in its own.
void encode_trailer(const checkpoint_trailer& t, std::uint64_t header_checksum,
                    std::span<std::byte, checkpoint_trailer_bytes> out) noexcept;
[[nodiscard]] result<checkpoint_trailer> decode_trailer(std::span<const std::byte, checkpoint_trailer_bytes> in,
                                                        std::uint64_t header_checksum,
                                                        const std::string& what) noexcept;
/// The checksum field of an encoded header.
[[nodiscard]] std::uint64_t header_checksum_of(std::span<const std::byte, checkpoint_header_bytes> in) noexcept;

}  // namespace tessel::detail
