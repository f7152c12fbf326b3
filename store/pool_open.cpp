#include "store/pool_open.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include <sys/random.h>
#include <sys/stat.h>

#include "common/errno_error.hpp"
#include "common/file_io.hpp"
#include "store/log_recovery.hpp"
#include "store/store_impl.hpp"

namespace tessel::detail {

namespace {

/// Creates the pool under the directory's creation lock; a pool that another handle created meanwhile is
/// left to the caller to open (or refused, for create_new).
[[nodiscard]] result<void> create_pool(const std::filesystem::path& dir, const options& opts) noexcept {
  try {
    if (auto ok = make_store_directory(dir, static_cast<std::filesystem::perms>(opts.directory_mode & 07777)); !ok) {
      return tl::unexpected(std::move(ok.error()));
    }
    const auto creating = lock_store_creation(dir);
    if (!creating) return tl::unexpected(creating.error());
    if (pool_store_exists(dir)) {
      if (opts.mode == open_mode::create_new) {
        return make_error(errc::invalid_argument, "a store already exists in " + dir.string());
      }
      return {};
    }
    std::error_code ec;
    // The pool appears under its name only when whole: made under a temporary name, then renamed.
    const std::filesystem::path tmp = dir / (std::string(pool_file_name) + ".creating");
    std::filesystem::remove(tmp, ec);
    pmem::pool_region::create_options co;
    co.pool_bytes = opts.pool_bytes;
    // The default area (16 MiB) would crowd a small pool: at most an eighth of the pool.
    co.log_bytes = std::min<std::uint64_t>(opts.log_segment_bytes, (opts.pool_bytes / 8) & ~std::uint64_t{7});
    co.file_mode = opts.file_mode;
    if (::getrandom(co.id.data(), co.id.size(), 0) != static_cast<ssize_t>(co.id.size())) {
      return tl::unexpected(errno_error(errno, "drawing a store id"));
    }
    {
      auto created = pmem::pool_region::create(tmp, co);
      if (!created) {
        std::filesystem::remove(tmp, ec);
        return tl::unexpected(std::move(created.error()));
      }
    }  // closed: libpmemobj has persisted what it wrote
    // The umask must not widen nor narrow what the options ask for.
    if (::chmod(tmp.c_str(), opts.file_mode & 07777) != 0) {
      const int e = errno;
      std::filesystem::remove(tmp, ec);
      return tl::unexpected(errno_error(e, "setting the pool file's mode"));
    }
    const std::filesystem::path final_path = dir / pool_file_name;
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      const int e = errno;
      std::filesystem::remove(tmp, ec);
      return tl::unexpected(errno_error(e, "renaming the new pool into place"));
    }
    return sync_directory(dir);
  } catch (...) {
    return make_error(errc::no_memory, "creating a pmem store");
  }
}

}  // namespace

bool pool_store_exists(const std::filesystem::path& dir) noexcept {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir / pool_file_name, ec);
}

result<std::unique_ptr<store>> open_pool_store(const std::filesystem::path& dir, const options& opts) noexcept {
  try {
    const bool exists = pool_store_exists(dir);
    if (exists && opts.mode == open_mode::create_new) {
      return make_error(errc::invalid_argument, "a store already exists in " + dir.string());
    }
    if (!exists && (opts.mode == open_mode::open_existing || opts.read_only)) {
      return make_error(errc::not_found, "no pmem store in " + dir.string());
    }
    if (!exists) {
      if (auto ok = create_pool(dir, opts); !ok) return tl::unexpected(std::move(ok.error()));
    }
    auto pool = pmem::pool_region::open(dir / pool_file_name, opts.read_only);
    if (!pool) return tl::unexpected(std::move(pool.error()));
    const bool writable = !opts.read_only;
    const catalog_store_id id = (*pool)->root().id;
    auto named = read_snapshot_catalog(dir, id);
    if (!named) return tl::unexpected(std::move(named.error()));
    auto recovered = recover_pool_tree(**pool, opts.verify_checksums_on_open, writable, *named);
    if (!recovered) return tl::unexpected(std::move(recovered.error()));
    const std::uint64_t at_seq = (*pool)->root().meta.at_seq;
    auto durable = std::make_unique<durable_state>(opts, std::move(*recovered));
    durable->directory = dir;
    durable->store_id = id;
    auto impl = std::make_unique<store_impl>(std::move(*pool), std::move(durable));
    durable_state& d = *impl->durable();
    // Before the log replay writes anything: the named versions' blocks must be pinned and their epochs past.
    if (auto ok = impl->adopt_named_snapshots(std::move(*named), d.pool_recovery.named_only); !ok) {
      return tl::unexpected(std::move(ok.error()));
    }
    d.pool_log = std::make_unique<pmem::pool_log>(*impl->pool());
    store_tree& tree = impl->tree();
    auto scan = d.pool_log->recover(at_seq, [&](const oplog::record_view& r) { return apply_log_record(tree, r); });
    if (!scan) {
      return make_error(scan.error().code(), "replaying the operation log: " + std::string(scan.error().message()));
    }
    d.pool_recovery.replayed = d.replayed_records = scan->replayed;
    d.pool_recovery.torn = scan->torn;
    if (writable) {
      // One publish: the replayed writes become part of the tree, the log area starts over, and the
      // clean-close flag is cleared before anything else can change the pool.
      std::lock_guard lock(d.mutex);
      d.dirty = true;
      if (auto ok = impl->commit_locked(0); !ok) return tl::unexpected(std::move(ok.error()));
    }
    return store_access::make(std::move(impl));
  } catch (...) {
    return make_error(errc::no_memory, "opening pmem store " + dir.string());
  }
}

}  // namespace tessel::detail
