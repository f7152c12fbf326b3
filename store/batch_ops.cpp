#include "store/batch_ops.hpp"

#include <algorithm>

#include "common/block_allocator.hpp"
#include "index/node_layout.hpp"
#include "mmap/mapped_region.hpp"

namespace tessel::detail {

namespace {

/// u8 kind, u32 key length, u32 value length.
constexpr std::size_t op_head_bytes = 1 + 4 + 4;

/// What a block of `size` takes in a file region: its header, rounded as the allocator rounds.
constexpr std::uint64_t block_bytes(std::size_t size) noexcept {
  return block_allocator::rounded_size(size + mmap::mapped_region::file_block_header);
}
/// The largest inner node.
constexpr std::uint64_t largest_node_bytes = block_bytes(sizeof(index::node256));
/// Nodes on a path that room_for_ops counts: a key's path in a tree of a billion random keys has about four.
constexpr std::size_t path_nodes_counted = 8;
/// The most room_for_ops counts for nodes: past it a large batch would grow the file far beyond its need
/// (a node copied for one write is not copied again for the next).
constexpr std::uint64_t node_bytes_counted = 16 << 20;

}  // namespace

std::uint64_t room_for_ops(std::span<const batch_op> ops) noexcept {
  std::uint64_t leaves = 0;
  std::uint64_t nodes = 0;
  for (const batch_op& op : ops) {
    if (!op.erase) leaves += block_bytes(index::leaf_layout::block_size(op.key.size(), op.value.size()));
    // The copies of the path, and the nodes the write adds or grows.
    nodes += (std::min(op.key.size() + 1, path_nodes_counted) + 2) * largest_node_bytes;
  }
  return leaves + std::min(nodes, node_bytes_counted);
}

std::size_t encoded_ops_size(std::span<const batch_op> ops) noexcept {
  std::size_t bytes = sizeof(std::uint32_t);
  for (const batch_op& op : ops) bytes += op_head_bytes + op.key.size() + op.value.size();
  return bytes;
}

void encode_ops(std::span<const batch_op> ops, std::string& out) {
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(ops.size()));
  for (const batch_op& op : ops) {
    append_le<std::uint8_t>(out, op.erase ? 1 : 0);
    append_le<std::uint32_t>(out, static_cast<std::uint32_t>(op.key.size()));
    append_le<std::uint32_t>(out, static_cast<std::uint32_t>(op.value.size()));
    out.append(op.key);
    out.append(op.value);
  }
}

bool read_ops(field_reader& in, std::vector<batch_op>& ops) {
  const auto count = in.le<std::uint32_t>();
  for (std::uint32_t i = 0; i < count && !in.bad(); ++i) {
    batch_op op;
    const auto kind = in.le<std::uint8_t>();
    const auto key_bytes = in.le<std::uint32_t>();
    const auto value_bytes = in.le<std::uint32_t>();
    if (kind > 1) {
      in.fail();
      return false;
    }
    op.erase = kind == 1;
    op.key = in.bytes(key_bytes);
    op.value = in.bytes(value_bytes);
    ops.push_back(op);
  }
  return !in.bad();
}

result<std::vector<batch_op>> decode_ops(std::string_view encoded) noexcept {
  try {
    field_reader in(encoded);
    std::vector<batch_op> ops;
    if (!read_ops(in, ops) || !in.done()) return make_error(errc::corruption, "a batch record does not parse");
    return ops;
  } catch (...) {
    return make_error(errc::no_memory, "decoding a batch record");
  }
}

}  // namespace tessel::detail
