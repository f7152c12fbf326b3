// The manifest of a durable sharded store (docs/format.md §Shard manifest): `shards.tessel` in the store's
// directory, written once when the store is created, after every shard exists -- so a manifest names
// shards that are all there, and a directory with shards but no manifest is a creation that did not finish
// (sharded_store::open removes those shards and creates the store again).
//
// Thread safety: values and functions.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tessel/error.hpp"

#include "store/shard_router.hpp"

namespace tessel::detail {

inline constexpr std::string_view shard_manifest_file_name = "shards.tessel";
inline constexpr std::uint32_t shard_manifest_version = 1;

struct shard_manifest {
  std::uint32_t shards = 0;
  routing_rule rule;
  std::array<std::uint8_t, 16> id{};  ///< the sharded store's id
  friend bool operator==(const shard_manifest&, const shard_manifest&) = default;
};

/// The directory of shard `i` inside the store: "shard-007".
[[nodiscard]] std::string shard_directory_name(std::uint32_t i);

[[nodiscard]] std::string encode_shard_manifest(const shard_manifest& m);
/// Errors: corruption (magic, checksum, size, a shard count or rule out of range), version_mismatch.
[[nodiscard]] result<shard_manifest> decode_shard_manifest(std::span<const std::byte> bytes,
                                                           const std::string& what) noexcept;

/// The manifest in `dir`, or nullopt when there is none. Errors: as decode; io_error.
[[nodiscard]] result<std::optional<shard_manifest>> read_shard_manifest(const std::filesystem::path& dir) noexcept;
/// Writes the manifest durably (common/file_io.hpp, replace_file_durably). Errors: io_error, no_space.
[[nodiscard]] result<void> write_shard_manifest(const std::filesystem::path& dir, const shard_manifest& m,
                                                unsigned file_mode) noexcept;

}  // namespace tessel::detail
