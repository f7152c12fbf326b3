#include "store/snapshot_catalog.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "tessel/bytes.hpp"

#include "common/checksum.hpp"
#include "common/file_io.hpp"
#include "common/le_codec.hpp"

namespace tessel::detail {

namespace {

// Layout (docs/format.md §Snapshot catalog): a 32-byte header {magic, u32 version, u32 count, id[16]}, the
// records, then a checksum64 of everything before it.
constexpr std::size_t header_bytes = 32;
constexpr std::size_t record_fixed_bytes = 4 + 6 * 8;  // u32 name length, six u64 fields, then the name
constexpr std::size_t checksum_bytes = 8;

}  // namespace

result<void> check_snapshot_name(std::string_view name) noexcept {
  if (name.empty()) return make_error(errc::invalid_argument, "a snapshot name must not be empty");
  if (name.size() > max_snapshot_name_bytes) {
    return make_error(errc::invalid_argument, "snapshot name of " + std::to_string(name.size()) +
                                                  " bytes is longer than the limit of " +
                                                  std::to_string(max_snapshot_name_bytes));
  }
  for (const char c : name) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) {
      return make_error(errc::invalid_argument,
                        "snapshot name holds the control byte " + std::to_string(b) + "; use printable text");
    }
  }
  return {};
}

namespace {}  // namespace

std::string encode_snapshot_catalog(const catalog_store_id& id, std::span<const named_snapshot_record> records) {
  std::string out(snapshot_catalog_magic.data(), snapshot_catalog_magic.size());
  append_le<std::uint32_t>(out, snapshot_catalog_version);
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(records.size()));
  out.append(reinterpret_cast<const char*>(id.data()), id.size());
  for (const auto& r : records) {
    append_le<std::uint32_t>(out, static_cast<std::uint32_t>(r.name.size()));
    for (const std::uint64_t field : {r.root, r.epoch, r.key_count, r.leaf_bytes, r.at_seq, r.created_unix_ns}) {
      append_le<std::uint64_t>(out, field);
    }
    out.append(r.name);
  }
  append_le<std::uint64_t>(out, checksum64(as_bytes(out)));
  return out;
}

result<std::vector<named_snapshot_record>> decode_snapshot_catalog(std::span<const std::byte> in,
                                                                   const catalog_store_id& id,
                                                                   const std::string& what) noexcept {
  try {
    if (in.size() < header_bytes + checksum_bytes) {
      return make_error(errc::corruption, what + " is truncated: " + std::to_string(in.size()) + " bytes");
    }
    if (std::memcmp(in.data(), snapshot_catalog_magic.data(), snapshot_catalog_magic.size()) != 0) {
      return make_error(errc::corruption, what + " is not a tessel snapshot catalog (bad magic)");
    }
    const std::size_t body = in.size() - checksum_bytes;
    if (checksum64(in.first(body)) != load_le<std::uint64_t>(in.data() + body)) {
      return make_error(errc::corruption, what + " fails its checksum");
    }
    const auto version = load_le<std::uint32_t>(in.data() + 8);
    if (version != snapshot_catalog_version) {
      return make_error(errc::version_mismatch, what + " has format version " + std::to_string(version) +
                                                    "; this build reads version " +
                                                    std::to_string(snapshot_catalog_version));
    }
    if (std::memcmp(in.data() + 16, id.data(), id.size()) != 0) {
      return make_error(errc::corruption, what + " belongs to another store (its store id differs)");
    }
    const auto count = load_le<std::uint32_t>(in.data() + 12);
    std::vector<named_snapshot_record> out;
    std::size_t at = header_bytes;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (body - at < record_fixed_bytes) {
        return make_error(errc::corruption, what + ": record " + std::to_string(i) + " runs past the end");
      }
      const std::byte* p = in.data() + at;
      const auto name_bytes = load_le<std::uint32_t>(p);
      if (name_bytes > max_snapshot_name_bytes || body - at - record_fixed_bytes < name_bytes) {
        return make_error(errc::corruption, what + ": record " + std::to_string(i) + " has a bad name length");
      }
      named_snapshot_record r;
      r.root = load_le<std::uint64_t>(p + 4);
      r.epoch = load_le<std::uint64_t>(p + 12);
      r.key_count = load_le<std::uint64_t>(p + 20);
      r.leaf_bytes = load_le<std::uint64_t>(p + 28);
      r.at_seq = load_le<std::uint64_t>(p + 36);
      r.created_unix_ns = load_le<std::uint64_t>(p + 44);
      r.name.assign(reinterpret_cast<const char*>(p + record_fixed_bytes), name_bytes);
      out.push_back(std::move(r));
      at += record_fixed_bytes + name_bytes;
    }
    if (at != body) return make_error(errc::corruption, what + " has bytes after its last record");
    return out;
  } catch (...) {
    return make_error(errc::no_memory, "reading " + what);
  }
}

result<std::vector<named_snapshot_record>> read_snapshot_catalog(const std::filesystem::path& dir,
                                                                 const catalog_store_id& id) noexcept {
  try {
    const std::filesystem::path path = dir / snapshot_catalog_file_name;
    auto bytes = read_file_if_exists(path);
    if (!bytes) return tl::unexpected(std::move(bytes.error()));
    if (!*bytes) return std::vector<named_snapshot_record>{};
    return decode_snapshot_catalog(**bytes, id, path.string());
  } catch (...) {
    return make_error(errc::no_memory, "reading the snapshot catalog");
  }
}

result<void> write_snapshot_catalog(const std::filesystem::path& dir, const catalog_store_id& id,
                                    std::span<const named_snapshot_record> records, unsigned file_mode) noexcept {
  try {
    const std::filesystem::path path = dir / snapshot_catalog_file_name;
    if (records.empty()) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return tl::unexpected(file_errno_error(errno, "removing " + path.string()));
      }
      return sync_directory(dir);
    }
    return replace_file_durably(dir, snapshot_catalog_file_name, as_bytes(encode_snapshot_catalog(id, records)),
                                file_mode);
  } catch (...) {
    return make_error(errc::no_memory, "writing the snapshot catalog");
  }
}

}  // namespace tessel::detail
