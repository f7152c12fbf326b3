#include "store/pool_recovery.hpp"

#include <algorithm>
#include <utility>

#include "index/tree_walk.hpp"
#include "store/block_header.hpp"
#include "store/named_roots.hpp"

namespace tessel::detail {

namespace {

constexpr std::size_t max_reported_problems = 20;
constexpr std::uint64_t progress_every = 1 << 16;

void note_problem(pool_audit& out, std::size_t& count, std::string problem) {
  if (++count <= max_reported_problems) out.problems.push_back(std::move(problem));
}

}  // namespace

result<pool_audit> audit_pool(const pmem::pool_region& pool, bool verify_checksums,
                              std::span<const named_snapshot_record> named,
                              const std::function<void(std::uint64_t)>& progress) noexcept {
  try {
    pool_audit out;
    std::size_t problem_count = 0;
    std::byte* const base = pool.base();
    const index::node_ref root = index::node_ref::from_bits(pool.root().meta.root);
    std::vector<pmem::pool_range> reached;  // (object offset, bytes the block needs)
    auto walked = index::walk_blocks(
        base, root, {block_header_bytes, pool.pool_bytes()}, 0, [&](index::node_ref r, std::size_t size) {
          ++(r.is_leaf() ? out.leaves : out.inner_nodes);
          if (verify_checksums) {
            if (auto problem = block_problem(base, r.offset(), size, r.is_leaf() ? "leaf" : "node")) {
              note_problem(out, problem_count, std::move(*problem));
            }
          }
          reached.push_back({r.offset() - block_header_bytes, size + block_header_bytes});
          if (progress && reached.size() % progress_every == 0) progress(reached.size());
        });
    if (!walked) return tl::unexpected(std::move(walked.error()));
    auto by_offset = [](const pmem::pool_range& a, const pmem::pool_range& b) { return a.offset < b.offset; };
    std::sort(reached.begin(), reached.end(), by_offset);
    // Blocks only named snapshots reach are objects in use too (named_roots.hpp).
    if (!named.empty()) {
      auto named_only =
          walk_named_roots(base, {block_header_bytes, pool.pool_bytes()}, named, [&](index::node_ref r, std::size_t) {
            const pmem::pool_range key{r.offset() - block_header_bytes, 0};
            return std::binary_search(reached.begin(), reached.end(), key, by_offset);
          });
      if (!named_only) return tl::unexpected(std::move(named_only.error()));
      for (const named_only_block& b : *named_only) {
        ++(b.ref.is_leaf() ? out.leaves_named_only : out.inner_nodes_named_only);
        if (verify_checksums) {
          if (auto problem = block_problem(base, b.ref.offset(), b.size, b.ref.is_leaf() ? "leaf" : "node")) {
            note_problem(out, problem_count, "a named snapshot's " + *problem);
          }
        }
        reached.push_back({b.ref.offset() - block_header_bytes, b.size + block_header_bytes});
      }
      std::sort(reached.begin(), reached.end(), by_offset);
      out.named_only = std::move(*named_only);
    }
    for (const pmem::pool_range& r : reached) out.block_bytes += r.size;
    auto objects = pool.objects();
    if (!objects) return tl::unexpected(std::move(objects.error()));
    out.objects = objects->size();
    auto not_an_object = [&](const pmem::pool_range& b) {
      note_problem(out, problem_count,
                   "tree block at offset " + std::to_string(b.offset) + " is not an allocated object");
    };
    // Both lists are sorted by offset: one merge finds blocks outside objects and objects without a block.
    auto block = reached.begin();
    for (const pmem::pool_range& object : *objects) {
      for (; block != reached.end() && block->offset < object.offset; ++block) not_an_object(*block);
      if (block == reached.end() || block->offset != object.offset) {
        out.leaked.push_back(object);
        continue;
      }
      if (block->size > object.size) {
        note_problem(out, problem_count,
                     "tree block at offset " + std::to_string(block->offset) + " needs " + std::to_string(block->size) +
                         " bytes but its object has " + std::to_string(object.size));
      }
      for (++block; block != reached.end() && block->offset == object.offset; ++block) {
        note_problem(out, problem_count, "two references reach the block at offset " + std::to_string(object.offset));
      }
    }
    for (; block != reached.end(); ++block) not_an_object(*block);
    if (problem_count > max_reported_problems) {
      out.problems.push_back(std::to_string(problem_count - max_reported_problems) + " more problems");
    }
    if (progress) progress(reached.size());
    return out;
  } catch (...) {
    return make_error(errc::no_memory, "auditing the pool");
  }
}

result<pool_recovery> recover_pool_tree(pmem::pool_region& pool, bool verify_checksums, bool writable,
                                        std::span<const named_snapshot_record> named) noexcept {
  const auto start = std::chrono::steady_clock::now();
  pool_recovery out;
  out.was_clean = (pool.root().meta.flags & pmem::pool_clean_close) != 0;
  // With named snapshots the audit also finds the blocks only they keep, which the store retires again.
  if (!out.was_clean || verify_checksums || !named.empty()) {
    auto audit = audit_pool(pool, verify_checksums, named);
    if (!audit) return tl::unexpected(std::move(audit.error()));
    if (!audit->problems.empty()) return make_error(errc::corruption, audit->problems.front());
    out.audited = true;
    out.blocks = audit->leaves + audit->inner_nodes + audit->leaves_named_only + audit->inner_nodes_named_only;
    out.named_only = std::move(audit->named_only);
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
