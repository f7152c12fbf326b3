#include "mmap/store_format.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/checksum.hpp"
#include "common/le_codec.hpp"

namespace tessel::mmap {

namespace {

constexpr std::array<char, 8> superblock_magic = {'T', 'E', 'S', 'S', 'E', 'L', 'D', 'B'};
constexpr std::array<char, 8> meta_magic = {'T', 'E', 'S', 'S', 'M', 'E', 'T', 'A'};
constexpr std::size_t checksum_at = page_bytes - 8;

// Field offsets, docs/format.md §Data file.
namespace sb {
constexpr std::size_t version = 8, header_bytes = 12, incompat = 16, compat = 24, page_size = 32, block_header = 36,
                      first_block = 40, id = 48, created = 64;
}  // namespace sb
namespace meta {
constexpr std::size_t generation = 8, epoch = 16, root = 24, key_count = 32, leaf_bytes = 40, at_seq = 48,
                      frontier = 56, allocated_bytes = 64, flags = 72, committed = 80, free_table = 88,
                      free_table_bytes = 96;
}  // namespace meta

void seal(page& p) noexcept {
  store_le<std::uint64_t>(p.data() + checksum_at, checksum64(std::span(p.data(), checksum_at)));
}

[[nodiscard]] bool sealed(std::span<const std::byte, page_bytes> p) noexcept {
  return load_le<std::uint64_t>(p.data() + checksum_at) == checksum64(p.first(checksum_at));
}

[[nodiscard]] bool has_magic(std::span<const std::byte, page_bytes> p, const std::array<char, 8>& magic) noexcept {
  return std::memcmp(p.data(), magic.data(), magic.size()) == 0;
}

[[nodiscard]] std::string hex(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 60; shift >= 0; shift -= 4) s.push_back(digits[(v >> shift) & 0xF]);
  return s;
}

}  // namespace

page encode_superblock(const superblock& s) noexcept {
  page p{};
  std::memcpy(p.data(), superblock_magic.data(), superblock_magic.size());
  store_le<std::uint32_t>(p.data() + sb::version, s.version);
  store_le<std::uint32_t>(p.data() + sb::header_bytes, static_cast<std::uint32_t>(page_bytes));
  store_le<std::uint64_t>(p.data() + sb::incompat, s.incompat_features);
  store_le<std::uint64_t>(p.data() + sb::compat, s.compat_features);
  store_le<std::uint32_t>(p.data() + sb::page_size, s.page_size);
  store_le<std::uint32_t>(p.data() + sb::block_header, s.block_header_bytes);
  store_le<std::uint64_t>(p.data() + sb::first_block, s.first_block);
  std::memcpy(p.data() + sb::id, s.id.data(), s.id.size());
  store_le<std::uint64_t>(p.data() + sb::created, s.created_unix_ns);
  seal(p);
  return p;
}

result<superblock> decode_superblock(std::span<const std::byte, page_bytes> p) noexcept {
  if (!has_magic(p, superblock_magic)) {
    return make_error(errc::corruption, "not a tessel store file (bad magic in the superblock)");
  }
  if (!sealed(p)) return make_error(errc::corruption, "superblock checksum mismatch");
  superblock s;
  s.version = load_le<std::uint32_t>(p.data() + sb::version);
  if (s.version != format_version) {
    return make_error(errc::version_mismatch, "store file has format version " + std::to_string(s.version) +
                                                  "; this build reads version " + std::to_string(format_version));
  }
  s.incompat_features = load_le<std::uint64_t>(p.data() + sb::incompat);
  if ((s.incompat_features & ~known_incompat_features) != 0) {
    return make_error(errc::version_mismatch, "store file needs features this build lacks (incompatible bits " +
                                                  hex(s.incompat_features & ~known_incompat_features) + ")");
  }
  s.compat_features = load_le<std::uint64_t>(p.data() + sb::compat);
  s.page_size = load_le<std::uint32_t>(p.data() + sb::page_size);
  s.block_header_bytes = load_le<std::uint32_t>(p.data() + sb::block_header);
  s.first_block = load_le<std::uint64_t>(p.data() + sb::first_block);
  if (load_le<std::uint32_t>(p.data() + sb::header_bytes) != page_bytes || s.page_size != page_bytes ||
      s.block_header_bytes != 8 || s.first_block != first_block_offset) {
    return make_error(errc::corruption, "superblock describes a layout this build does not use");
  }
  std::memcpy(s.id.data(), p.data() + sb::id, s.id.size());
  s.created_unix_ns = load_le<std::uint64_t>(p.data() + sb::created);
  return s;
}

page encode_meta(const meta_slot& m) noexcept {
  page p{};
  std::memcpy(p.data(), meta_magic.data(), meta_magic.size());
  store_le(p.data() + meta::generation, m.generation);
  store_le(p.data() + meta::epoch, m.epoch);
  store_le(p.data() + meta::root, m.root);
  store_le(p.data() + meta::key_count, m.key_count);
  store_le(p.data() + meta::leaf_bytes, m.leaf_bytes);
  store_le(p.data() + meta::at_seq, m.at_seq);
  store_le(p.data() + meta::frontier, m.frontier);
  store_le(p.data() + meta::allocated_bytes, m.allocated_bytes);
  store_le(p.data() + meta::flags, m.flags);
  store_le(p.data() + meta::committed, m.committed_unix_ns);
  store_le(p.data() + meta::free_table, m.free_table);
  store_le(p.data() + meta::free_table_bytes, m.free_table_bytes);
  seal(p);
  return p;
}

result<meta_slot> decode_meta(std::span<const std::byte, page_bytes> p, int index) noexcept {
  const std::string slot = "meta slot " + std::to_string(index);
  if (std::all_of(p.begin(), p.end(), [](std::byte b) { return b == std::byte{0}; })) {
    return make_error(errc::corruption, slot + " was never written");
  }
  if (!has_magic(p, meta_magic)) return make_error(errc::corruption, slot + " has a bad magic");
  if (!sealed(p)) return make_error(errc::corruption, slot + " checksum mismatch");
  meta_slot m;
  m.generation = load_le<std::uint64_t>(p.data() + meta::generation);
  m.epoch = load_le<std::uint64_t>(p.data() + meta::epoch);
  m.root = load_le<std::uint64_t>(p.data() + meta::root);
  m.key_count = load_le<std::uint64_t>(p.data() + meta::key_count);
  m.leaf_bytes = load_le<std::uint64_t>(p.data() + meta::leaf_bytes);
  m.at_seq = load_le<std::uint64_t>(p.data() + meta::at_seq);
  m.frontier = load_le<std::uint64_t>(p.data() + meta::frontier);
  m.allocated_bytes = load_le<std::uint64_t>(p.data() + meta::allocated_bytes);
  m.flags = load_le<std::uint64_t>(p.data() + meta::flags);
  m.committed_unix_ns = load_le<std::uint64_t>(p.data() + meta::committed);
  m.free_table = load_le<std::uint64_t>(p.data() + meta::free_table);
  m.free_table_bytes = load_le<std::uint64_t>(p.data() + meta::free_table_bytes);
  if (m.frontier < first_block_offset || m.frontier % 8 != 0 || m.epoch == 0) {
    return make_error(errc::corruption, slot + " describes an impossible tree (frontier " + std::to_string(m.frontier) +
                                            ", epoch " + std::to_string(m.epoch) + ")");
  }
  return m;
}

}  // namespace tessel::mmap
