#include "store/shard_manifest.hpp"

#include <cstdio>
#include <cstring>
#include <vector>

#include <fcntl.h>

#include "tessel/bytes.hpp"

#include "common/checksum.hpp"
#include "common/file_io.hpp"
#include "common/le_codec.hpp"

namespace tessel::detail {

namespace {

// {magic[8], u32 version, u32 shards, u32 routing kind, u32 components, id[16]} then checksum64: 48 bytes.
constexpr std::array<char, 8> magic = {'T', 'E', 'S', 'S', 'H', 'A', 'R', 'D'};
constexpr std::size_t body_bytes = 40;
constexpr std::size_t manifest_bytes = body_bytes + 8;

}  // namespace

std::string shard_directory_name(std::uint32_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%03u", i);
  return name;
}

std::string encode_shard_manifest(const shard_manifest& m) {
  std::array<std::byte, manifest_bytes> out{};
  std::memcpy(out.data(), magic.data(), magic.size());
  store_le<std::uint32_t>(out.data() + 8, shard_manifest_version);
  store_le<std::uint32_t>(out.data() + 12, m.shards);
  store_le<std::uint32_t>(out.data() + 16, static_cast<std::uint32_t>(m.rule.kind));
  store_le<std::uint32_t>(out.data() + 20, m.rule.components);
  std::memcpy(out.data() + 24, m.id.data(), m.id.size());
  store_le<std::uint64_t>(out.data() + body_bytes, checksum64(std::span<const std::byte>(out).first(body_bytes)));
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

result<shard_manifest> decode_shard_manifest(std::span<const std::byte> in, const std::string& what) noexcept {
  if (in.size() != manifest_bytes) {
    return make_error(errc::corruption,
                      what + " has " + std::to_string(in.size()) + " bytes, not " + std::to_string(manifest_bytes));
  }
  if (std::memcmp(in.data(), magic.data(), magic.size()) != 0) {
    return make_error(errc::corruption, what + " is not a tessel shard manifest (bad magic)");
  }
  if (checksum64(in.first(body_bytes)) != load_le<std::uint64_t>(in.data() + body_bytes)) {
    return make_error(errc::corruption, what + " fails its checksum");
  }
  const auto version = load_le<std::uint32_t>(in.data() + 8);
  if (version != shard_manifest_version) {
    return make_error(errc::version_mismatch, what + " has format version " + std::to_string(version) +
                                                  "; this build reads version " +
                                                  std::to_string(shard_manifest_version));
  }
  shard_manifest m;
  m.shards = load_le<std::uint32_t>(in.data() + 12);
  m.rule.kind = static_cast<routing_kind>(load_le<std::uint32_t>(in.data() + 16) & 0xFF);
  m.rule.components = load_le<std::uint32_t>(in.data() + 20);
  std::memcpy(m.id.data(), in.data() + 24, m.id.size());
  if (auto router = shard_router::make(m.shards, m.rule); !router) {
    return make_error(errc::corruption, what + ": " + std::string(router.error().message()));
  }
  return m;
}

result<std::optional<shard_manifest>> read_shard_manifest(const std::filesystem::path& dir) noexcept {
  try {
    const std::filesystem::path path = dir / shard_manifest_file_name;
    auto bytes = read_file_if_exists(path);
    if (!bytes) return tl::unexpected(std::move(bytes.error()));
    if (!*bytes) return std::optional<shard_manifest>{};
    auto m = decode_shard_manifest(**bytes, path.string());
    if (!m) return tl::unexpected(std::move(m.error()));
    return std::optional<shard_manifest>(*m);
  } catch (...) {
    return make_error(errc::no_memory, "reading the shard manifest");
  }
}

result<void> write_shard_manifest(const std::filesystem::path& dir, const shard_manifest& m,
                                  unsigned file_mode) noexcept {
  try {
    return replace_file_durably(dir, shard_manifest_file_name, as_bytes(encode_shard_manifest(m)), file_mode);
  } catch (...) {
    return make_error(errc::no_memory, "writing the shard manifest");
  }
}

}  // namespace tessel::detail
