// store::open(path, options): create or open a durable store's directory, map its data file, and recover
// the tree of its newest intact commit.
#include <filesystem>
#include <string>
#include <utility>

#include "tessel/store.hpp"

#include "mmap/mapped_region.hpp"
#include "mmap/store_file.hpp"
#include "store/log_recovery.hpp"
#include "store/pool_open.hpp"
#include "store/snapshot_catalog.hpp"
#include "store/store_impl.hpp"
#include "store/tree_recovery.hpp"

namespace tessel {

namespace {

[[nodiscard]] result<std::unique_ptr<mmap::store_file>> open_or_create(const std::filesystem::path& dir,
                                                                       const options& opts) noexcept {
  const bool exists = mmap::store_file::exists(dir);
  if (exists && opts.mode == open_mode::create_new) {
    return make_error(errc::invalid_argument, "a store already exists in " + dir.string());
  }
  if (!exists && (opts.mode == open_mode::open_existing || opts.read_only)) {
    return make_error(errc::not_found, "no store in " + dir.string());
  }
  if (exists) return mmap::store_file::open(dir, opts.read_only);
  mmap::store_file::create_options c;
  c.directory_mode = static_cast<std::filesystem::perms>(opts.directory_mode & 07777);
  c.file_mode = static_cast<std::filesystem::perms>(opts.file_mode & 07777);
  c.open_if_exists = opts.mode != open_mode::create_new;
  return mmap::store_file::create(dir, c);
}

}  // namespace

result<std::unique_ptr<store>> store::open(const std::string& path, const options& opts) noexcept {
  if (opts.backend == backend::dram) {
    return make_error(errc::invalid_argument,
                      "backend dram keeps no files; set options.backend = backend::mmap to open " + path);
  }
  if (opts.backend != backend::mmap && opts.backend != backend::pmem) {
    return make_error(errc::invalid_argument, "unknown backend " + std::to_string(static_cast<int>(opts.backend)));
  }
  if (path.empty()) return make_error(errc::invalid_argument, "empty store path");
  try {
    // A directory holds one kind of store; opening it as the other is a mistake worth naming.
    const bool has_pool = detail::pool_store_exists(path);
    const bool has_file = mmap::store_file::exists(path);
    if (opts.backend == backend::mmap && has_pool && !has_file) {
      return make_error(errc::invalid_argument, path + " holds a pmem store; open it with backend::pmem");
    }
    if (opts.backend == backend::pmem && has_file && !has_pool) {
      return make_error(errc::invalid_argument, path + " holds an mmap store; open it with backend::mmap");
    }
    if (opts.backend == backend::pmem) return detail::open_pool_store(path, opts);
    auto file = open_or_create(path, opts);
    if (!file) return tl::unexpected(std::move(file.error()));
    mmap::mapped_region::file_options fo;
    fo.reserve_bytes = opts.reserve_bytes;
    // A private mapping never writes to the file: what read-only opens and power-loss tests need.
    fo.simulate_power_loss = opts.simulate_power_loss || opts.read_only;
    auto region = mmap::mapped_region::map_file((*file)->fd(), (*file)->size_at_open(), mmap::first_block_offset, fo);
    if (!region) return tl::unexpected(std::move(region.error()));
    const detail::catalog_store_id id = (*file)->super().id;
    auto named = detail::read_snapshot_catalog(path, id);
    if (!named) return tl::unexpected(std::move(named.error()));
    auto recovered = detail::recover_tree(**file, **region, opts.verify_checksums_on_open, *named);
    if (!recovered) return tl::unexpected(std::move(recovered.error()));
    const int slot = recovered->slot;
    auto durable = std::make_unique<detail::durable_state>(detail::tree_committer(std::move(*file), slot), opts,
                                                           std::move(*recovered));
    durable->directory = path;
    durable->store_id = id;
    auto impl = std::make_unique<detail::store_impl>(std::move(*region), std::move(durable));
    // Before the log replay writes anything: the named versions' blocks must be pinned and their epochs past.
    if (auto ok = impl->adopt_named_snapshots(std::move(*named), impl->durable()->recovery.named_only); !ok) {
      return tl::unexpected(std::move(ok.error()));
    }
    if (auto ok = detail::recover_log(*impl); !ok) return tl::unexpected(std::move(ok.error()));
    return detail::store_access::make(std::move(impl));
  } catch (...) {
    return make_error(errc::no_memory, "opening store " + path);
  }
}

}  // namespace tessel
