#include "store/store_check.hpp"

#include <algorithm>
#include <optional>
#include <span>
#include <utility>

#include "common/block_allocator.hpp"
#include "index/art_inspect.hpp"
#include "index/tree_walk.hpp"
#include "log/log_reader.hpp"
#include "mmap/mapped_region.hpp"
#include "mmap/store_file.hpp"
#include "store/block_header.hpp"
#include "store/free_table.hpp"
#include "store/log_recovery.hpp"
#include "store/named_roots.hpp"
#include "store/pool_check.hpp"
#include "store/pool_open.hpp"
#include "store/snapshot_catalog.hpp"

namespace tessel {

namespace {

// Enough to locate damage; a store broken everywhere would otherwise print millions of lines.
constexpr std::size_t max_block_problems = 100;
constexpr std::uint64_t progress_every = 1 << 16;

/// A clean close's record of free space against the tree: every byte below the frontier is reachable,
/// recorded free, or the record itself -- never two of them.
void check_free_table(const mmap::mapped_region& region, const mmap::meta_slot& meta,
                      const std::vector<block_allocator::extent>& reachable, check_report& report) {
  const detail::free_table_ref ref{meta.free_table, meta.free_table_bytes};
  auto free = detail::read_free_table(region, ref, meta.frontier);
  if (!free) {
    report.problems.push_back(std::string(free.error().message()));
    return;
  }
  std::vector<block_allocator::extent> all = reachable;
  all.insert(all.end(), free->begin(), free->end());
  all.push_back(region.extent_of(ref.offset, ref.bytes));
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
  std::uint64_t cursor = mmap::first_block_offset;
  for (const auto& e : all) {
    if (e.offset < cursor) {
      report.problems.push_back("space at offset " + std::to_string(e.offset) +
                                " is both in use and recorded free (or recorded twice)");
      return;
    }
    if (e.offset > cursor) {
      report.problems.push_back("bytes " + std::to_string(cursor) + ".." + std::to_string(e.offset) +
                                " are neither reachable nor recorded free");
      return;
    }
    cursor = e.offset + e.size;
  }
  if (cursor != meta.frontier) {
    report.problems.push_back("reachable and free space end at " + std::to_string(cursor) + ", not at the frontier " +
                              std::to_string(meta.frontier));
  }
  report.recorded_free_bytes = 0;
  for (const auto& e : *free) report.recorded_free_bytes += e.size;
}

void check_tree(const mmap::store_file& file, const mmap::meta_slot& meta,
                std::span<const detail::named_snapshot_record> named, check_report& report,
                const check_progress& progress) {
  mmap::mapped_region::file_options fo;
  fo.simulate_power_loss = true;  // private: nothing this does can reach the file
  auto region = mmap::mapped_region::map_file(file.fd(), file.size_at_open(), mmap::first_block_offset, fo);
  if (!region) {
    report.problems.push_back("cannot map the store file: " + region.error().to_string());
    return;
  }
  std::byte* const base = (*region)->base();
  const std::uint64_t end = std::min(meta.frontier, file.size_at_open());
  if (meta.frontier > file.size_at_open()) {
    report.problems.push_back("store file is truncated: the tree reaches byte " + std::to_string(meta.frontier) +
                              " but the file has " + std::to_string(file.size_at_open()));
  }
  std::vector<block_allocator::extent> extents;
  std::size_t block_problems = 0;
  const index::node_ref root = index::node_ref::from_bits(meta.root);
  // walk_blocks visits a node's children last first, so it meets the leaves in descending key order: a
  // leaf in key order after its neighbour is met before it, at a higher offset.
  std::uint64_t previous_leaf = 0;
  auto walked =
      index::walk_blocks(base, root, {mmap::first_block_offset, end}, 0, [&](index::node_ref r, std::size_t size) {
        if (r.is_leaf()) {
          ++report.leaves;
          if (previous_leaf != 0 && r.offset() < previous_leaf) ++report.leaves_in_key_order;
          previous_leaf = r.offset();
        } else {
          ++report.inner_nodes;
        }
        if (auto problem = detail::block_problem(base, r.offset(), size, r.is_leaf() ? "leaf" : "node")) {
          if (++block_problems <= max_block_problems) report.problems.push_back(std::move(*problem));
        }
        extents.push_back((*region)->extent_of(r.offset(), size));
        if (progress && extents.size() % progress_every == 0) progress(extents.size());
      });
  if (block_problems > max_block_problems) {
    report.problems.push_back(std::to_string(block_problems - max_block_problems) + " more damaged blocks");
  }
  if (!walked) {
    report.problems.push_back(std::string(walked.error().message()));
    return;
  }
  auto by_offset = [](const auto& a, const auto& b) { return a.offset < b.offset; };
  std::sort(extents.begin(), extents.end(), by_offset);
  // The named snapshots' blocks that the tree does not share are in use too.
  auto named_only =
      detail::walk_named_roots(base, {mmap::first_block_offset, end}, named, [&](index::node_ref r, std::size_t size) {
        return std::binary_search(extents.begin(), extents.end(), (*region)->extent_of(r.offset(), size), by_offset);
      });
  if (!named_only) {
    report.problems.push_back(std::string(named_only.error().message()));
    return;
  }
  for (const detail::named_only_block& b : *named_only) {
    if (auto problem = detail::block_problem(base, b.ref.offset(), b.size, b.ref.is_leaf() ? "leaf" : "node")) {
      if (++block_problems <= max_block_problems) report.problems.push_back("a named snapshot's " + *problem);
    }
    extents.push_back((*region)->extent_of(b.ref.offset(), b.size));
  }
  report.named_only_blocks = named_only->size();
  std::sort(extents.begin(), extents.end(), by_offset);
  for (std::size_t i = 0; i < extents.size(); ++i) {
    report.block_bytes += extents[i].size;
    if (i > 0 && extents[i - 1].offset + extents[i - 1].size > extents[i].offset) {
      report.problems.push_back("blocks at offsets " + std::to_string(extents[i - 1].offset) + " and " +
                                std::to_string(extents[i].offset) + " overlap");
    }
    if (extents[i].offset + extents[i].size > meta.frontier) {
      report.problems.push_back("block at offset " + std::to_string(extents[i].offset) +
                                " lies past the committed frontier");
    }
  }
  const std::uint64_t usable = meta.frontier - mmap::first_block_offset;
  report.unreachable_bytes = usable > report.block_bytes ? usable - report.block_bytes : 0;
  if (meta.free_table != 0) check_free_table(**region, meta, extents, report);
  if (report.leaves != meta.key_count) {
    report.problems.push_back("meta slot records " + std::to_string(meta.key_count) + " keys but the tree holds " +
                              std::to_string(report.leaves));
  }
  // Structural invariants last: they read keys and assume every reference is sound, which the walk proved.
  if (block_problems == 0) {
    if (auto ok = index::inspect_verify(base, root, report.leaves); !ok) {
      report.problems.push_back("tree invariant broken: " + std::string(ok.error().message()));
    }
    for (const detail::named_snapshot_record& n : named) {
      if (auto ok = index::inspect_verify(base, index::node_ref::from_bits(n.root), n.key_count); !ok) {
        report.problems.push_back("named snapshot '" + n.name +
                                  "': tree invariant broken: " + std::string(ok.error().message()));
      }
    }
  }
  if (progress) progress(extents.size());
}

}  // namespace

result<check_report> check_store(const std::filesystem::path& dir, const check_progress& progress) noexcept {
  if (detail::pool_store_exists(dir)) return detail::check_pool(dir, progress);
  try {
    auto file = mmap::store_file::open(dir, true);
    if (!file) return tl::unexpected(std::move(file.error()));
    check_report report;
    report.file_size = (*file)->size_at_open();
    for (int i = 0; i < 2; ++i) {
      const auto& s = (*file)->slot(i);
      report.slots[static_cast<unsigned>(i)] =
          s ? "generation " + std::to_string(s->generation) + ", epoch " + std::to_string(s->epoch)
            : std::string(s.error().message());
    }
    auto newest = (*file)->newest_slot();
    if (!newest) {
      report.problems.emplace_back(newest.error().message());
      return report;
    }
    const mmap::meta_slot& meta = *(*file)->slot(*newest);
    report.slot = *newest;
    report.generation = meta.generation;
    report.key_count = meta.key_count;
    report.frontier = meta.frontier;
    report.clean_close = (meta.flags & mmap::clean_close) != 0;
    const auto& other = (*file)->slot(1 - *newest);
    if (!other && meta.generation > 1) {
      // Generation 1 is the only commit that leaves the other slot unwritten.
      report.problems.push_back(std::string(other.error().message()) + " (the store still opens from slot " +
                                std::to_string(*newest) + ")");
    }
    auto named = detail::read_snapshot_catalog(dir, (*file)->super().id);
    if (!named) {
      report.problems.push_back("snapshot catalog: " + std::string(named.error().message()));
      named = std::vector<detail::named_snapshot_record>{};
    }
    report.named_snapshots = named->size();
    check_tree(**file, meta, *named, report, progress);
    auto log = oplog::scan_log(detail::log_directory(dir), (*file)->super().id, meta.at_seq,
                               [](const oplog::record_view&) -> result<void> { return {}; });
    if (!log) {
      report.problems.push_back("operation log: " + std::string(log.error().message()));
    } else {
      report.log_records = log->records;
      report.log_records_to_replay = log->replayed;
      if (log->damage) {
        report.log_torn_tail = log->damage->segment.string() + " at offset " + std::to_string(log->damage->offset) +
                               " (" + log->damage->reason + ")";
      }
    }
    return report;
  } catch (...) {
    return make_error(errc::no_memory, "checking store " + dir.string());
  }
}

}  // namespace tessel
