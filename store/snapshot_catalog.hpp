// The named-snapshot catalog (docs/format.md §Snapshot catalog): the file `snapshots.tessel` in a durable
// store's directory, listing every named snapshot -- its name and the committed root it keeps alive.
//
// A file beside the tree rather than a field of the meta slot or pool root: both backends share it, and
// creating or dropping a name (rare, explicit) costs one atomic file replacement instead of a change to
// two commit protocols. It stays consistent with the tree because of two orders: `create` writes it only
// after the commit of the root it names is durable, and `drop` frees that root's blocks only after the file
// without the name is durable. So every root the file names is whole whatever the crash.
//
// Thread safety: values and functions; the store calls them under its writer's mutex.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessel/error.hpp"

namespace tessel::detail {

inline constexpr std::string_view snapshot_catalog_file_name = "snapshots.tessel";
inline constexpr std::array<char, 8> snapshot_catalog_magic = {'T', 'E', 'S', 'S', 'N', 'A', 'M', 'E'};
inline constexpr std::uint32_t snapshot_catalog_version = 1;
inline constexpr std::size_t max_snapshot_name_bytes = 128;

using catalog_store_id = std::array<std::uint8_t, 16>;

/// One named snapshot: a root committed at `epoch` and what the store knew of it then.
struct named_snapshot_record {
  std::string name;
  std::uint64_t root = 0;  ///< node_ref bits; 0 for an empty tree
  std::uint64_t epoch = 0;
  std::uint64_t key_count = 0;
  std::uint64_t leaf_bytes = 0;
  std::uint64_t at_seq = 0;  ///< every log record with seq <= at_seq is in the root
  std::uint64_t created_unix_ns = 0;
};

/// Errors: invalid_argument naming what is wrong: empty, longer than max_snapshot_name_bytes, or holding a
/// control byte (names travel through CLIs and logs).
[[nodiscard]] result<void> check_snapshot_name(std::string_view name) noexcept;

/// The file's bytes for `records` of the store `id`.
[[nodiscard]] std::string encode_snapshot_catalog(const catalog_store_id& id,
                                                  std::span<const named_snapshot_record> records);
/// Errors: corruption (magic, checksum, truncation, bad lengths, another store's id), version_mismatch.
/// `what` names the file in messages.
[[nodiscard]] result<std::vector<named_snapshot_record>> decode_snapshot_catalog(std::span<const std::byte> bytes,
                                                                                 const catalog_store_id& id,
                                                                                 const std::string& what) noexcept;

/// The catalog of the store in `dir`; empty when the file does not exist. Errors: as decode; io_error.
[[nodiscard]] result<std::vector<named_snapshot_record>> read_snapshot_catalog(const std::filesystem::path& dir,
                                                                               const catalog_store_id& id) noexcept;
/// Replaces the catalog atomically and durably (a new file, fdatasync, rename, directory fsync); an empty
/// `records` removes the file. Errors: io_error, no_space, no_memory; the old catalog then stands.
[[nodiscard]] result<void> write_snapshot_catalog(const std::filesystem::path& dir, const catalog_store_id& id,
                                                  std::span<const named_snapshot_record> records,
                                                  unsigned file_mode) noexcept;

}  // namespace tessel::detail
