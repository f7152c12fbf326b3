#include "store/pool_recovery.hpp"

#include <algorithm>
#include <utility>

#include "index/tree_walk.hpp"
#include "store/block_header.hpp"

namespace tessel::detail {

result<pool_audit> audit_pool(const pmem::pool_region& pool, bool verify_checksums) noexcept {
  try {
    pool_audit out;
    std::byte* const base = pool.base();
    const index::node_ref root = index::node_ref::from_bits(pool.root().meta.root);
    std::vector<pmem::pool_range> reached;  // (object offset, bytes the block needs)
    std::optional<std::string> problem;
    auto walked = index::walk_blocks(base, root, {block_header_bytes, pool.pool_bytes()}, 0,
                                     [&](index::node_ref r, std::size_t size) {
                                       if (verify_checksums && !problem) {
                                         problem = block_problem(base, r.offset(), size, r.is_leaf() ? "leaf" : "node");
                                       }
                                       reached.push_back({r.offset() - block_header_bytes, size + block_header_bytes});
                                     });
    if (!walked) return tl::unexpected(std::move(walked.error()));
    if (problem) return make_error(errc::corruption, *problem);
    out.blocks = reached.size();
    for (const pmem::pool_range& r : reached) out.block_bytes += r.size;
    std::sort(reached.begin(), reached.end(),
              [](const pmem::pool_range& a, const pmem::pool_range& b) { return a.offset < b.offset; });
    auto objects = pool.objects();
    if (!objects) return tl::unexpected(std::move(objects.error()));
    out.objects = objects->size();
    // Both lists are sorted by offset: one merge finds blocks outside objects and objects without a block.
    auto block = reached.begin();
    for (const pmem::pool_range& object : *objects) {
      if (block != reached.end() && block->offset < object.offset) break;
      if (block == reached.end() || block->offset != object.offset) {
        out.leaked.push_back(object);
        continue;
      }
      if (block->size > object.size) {
        return make_error(errc::corruption, "tree block at offset " + std::to_string(block->offset) + " needs " +
                                                std::to_string(block->size) + " bytes but its object has " +
                                                std::to_string(object.size));
      }
      if (++block != reached.end() && block->offset == (block - 1)->offset) {
        return make_error(errc::corruption,
                          "two references reach the block at offset " + std::to_string(block->offset));
      }
    }
    if (block != reached.end()) {
      return make_error(errc::corruption, "tree block at offset " + std::to_string(block->offset) +
                                              " is not an allocated object of the pool");
    }
    return out;
  } catch (...) {
    return make_error(errc::no_memory, "auditing the pool");
  }
}

result<pool_recovery> recover_pool_tree(pmem::pool_region& pool, bool verify_checksums, bool writable) noexcept {
  const auto start = std::chrono::steady_clock::now();
  pool_recovery out;
  out.was_clean = (pool.root().meta.flags & pmem::pool_clean_close) != 0;
  if (!out.was_clean || verify_checksums) {
    auto audit = audit_pool(pool, verify_checksums);
    if (!audit) return tl::unexpected(std::move(audit.error()));
    out.audited = true;
    out.blocks = audit->blocks;
    out.block_bytes = audit->block_bytes;
    out.leaked_objects = audit->leaked.size();
    for (const pmem::pool_range& r : audit->leaked) out.leaked_bytes += r.size;
    if (writable && !audit->leaked.empty()) {
      try {
        std::vector<std::uint64_t> offsets;
        offsets.reserve(audit->leaked.size());
        for (const pmem::pool_range& r : audit->leaked) offsets.push_back(r.offset);
        if (auto ok = pool.free_objects(offsets); !ok) return tl::unexpected(std::move(ok.error()));
      } catch (...) {
        return make_error(errc::no_memory, "listing leaked objects");
      }
      pool.set_allocated_bytes(audit->block_bytes);
    }
  }
  out.elapsed = std::chrono::steady_clock::now() - start;
  return out;
}

}  // namespace tessel::detail
