#include "pmem/pool_region.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include <libpmem.h>

#include <sys/stat.h>

#include "common/errno_error.hpp"
#include "common/wall_clock.hpp"

namespace tessel::pmem {

namespace {

// Allocation classes for tree blocks (header included): 16-byte steps up to 512 bytes, where leaves and
// small nodes are, then 64-byte steps up to 4096 (an n256 grows by 64-byte slot groups). Larger blocks use
// libpmemobj's default classes. No per-object header: a block's size is its class's unit.
constexpr std::size_t fine_step = 16;
constexpr std::size_t fine_limit = 512;
constexpr std::size_t coarse_step = 64;
constexpr std::size_t coarse_limit = 4096;
constexpr std::size_t fine_classes = fine_limit / fine_step;
constexpr std::size_t coarse_classes = (coarse_limit - fine_limit) / coarse_step;
// A run of about this many bytes per class: libpmemobj rounds to its 256 KiB block.
constexpr std::size_t run_bytes = 256 * 1024;

std::size_t class_unit(std::size_t index) noexcept {
  return index < fine_classes ? (index + 1) * fine_step : fine_limit + (index - fine_classes + 1) * coarse_step;
}

// Turns copy-on-write mapping on or off for the pool opened while it lives. The setting is global to
// libpmemobj, so the scope also holds a process-wide mutex: a read-only open on one thread must not
// leave a writable open on another with a private mapping (whose writes would never reach the file), nor
// the other way round.
class copy_on_write_scope {
 public:
  explicit copy_on_write_scope(bool on) noexcept : on_(on) { set(on_ ? 1 : 0); }
  ~copy_on_write_scope() {
    if (on_) set(0);
  }
  copy_on_write_scope(const copy_on_write_scope&) = delete;
  copy_on_write_scope& operator=(const copy_on_write_scope&) = delete;

 private:
  static std::mutex& setting_mutex() noexcept {
    static std::mutex m;
    return m;
  }
  static void set(int value) noexcept { (void)pmemobj_ctl_set(nullptr, "copy_on_write.at_open", &value); }
  const std::lock_guard<std::mutex> hold_{setting_mutex()};  // first: held before the setting changes
  bool on_;
};

}  // namespace

std::unique_ptr<pool_region> pool_region::adopt_pool(PMEMobjpool* pool, const std::filesystem::path& path,
                                                     bool read_only) {
  try {
    return std::unique_ptr<pool_region>(new pool_region(pool, path, read_only));
  } catch (...) {
    // Out of memory before the region owns the pool: closed here, or its lock would answer busy to
    // every later open of the store in this process.
    pmemobj_close(pool);
    throw;
  }
}

error pool_error(int err, const std::string& context) {
  const char* detail = pmemobj_errormsg();
  const error e = errno_error(err, context);
  if (detail == nullptr || *detail == '\0') return e;
  return error(e.code(), std::string(e.message()) + " (libpmemobj: " + detail + ")");
}

result<std::unique_ptr<pool_region>> pool_region::create(const std::filesystem::path& path,
                                                         const create_options& opts) noexcept {
  if (opts.pool_bytes < min_pool_bytes) {
    return make_error(errc::invalid_argument, "pool size " + std::to_string(opts.pool_bytes) +
                                                  " is below libpmemobj's minimum of " +
                                                  std::to_string(min_pool_bytes));
  }
  if (opts.log_bytes < 4096 || opts.log_bytes % 8 != 0 || opts.log_bytes > opts.pool_bytes / 4) {
    return make_error(errc::invalid_argument, "operation log area of " + std::to_string(opts.log_bytes) +
                                                  " bytes: it must be a multiple of 8, at least 4096 and at most a "
                                                  "quarter of the pool (" +
                                                  std::to_string(opts.pool_bytes) + " bytes)");
  }
  try {
    PMEMobjpool* pool = pmemobj_create(path.c_str(), pool_layout, opts.pool_bytes, opts.file_mode & 07777);
    if (pool == nullptr) return tl::unexpected(pool_error(errno, "creating pool " + path.string()));
    std::unique_ptr<pool_region> region = adopt_pool(pool, path, false);
    PMEMoid root_oid = pmemobj_root(pool, sizeof(pool_root));
    if (OID_IS_NULL(root_oid))
      return tl::unexpected(pool_error(errno, "allocating the root object of " + path.string()));
    PMEMoid log_oid = OID_NULL;
    if (pmemobj_zalloc(pool, &log_oid, opts.log_bytes, 0) != 0) {
      return tl::unexpected(pool_error(errno, "allocating the operation log area of " + path.string()));
    }
    region->uuid_lo_ = root_oid.pool_uuid_lo;
    auto* root = static_cast<pool_root*>(pmemobj_direct(root_oid));
    pool_root r{};
    r.magic = pool_magic;
    r.format_version = pool_format_version;
    r.incompat_features = known_pool_features;
    r.log_offset = log_oid.off;
    r.log_bytes = opts.log_bytes;
    r.id = opts.id;
    r.created_unix_ns = unix_time_ns();
    r.meta.generation = 1;
    r.meta.epoch = 1;
    r.meta.committed_unix_ns = r.created_unix_ns;
    r.meta.flags = pool_clean_close;
    r.checksum = root_checksum(r);
    pmemobj_memcpy_persist(pool, root, &r, sizeof r);
    region->root_ = root;
    return region;
  } catch (...) {
    return make_error(errc::no_memory, "creating pool " + path.string());
  }
}

result<std::unique_ptr<pool_region>> pool_region::open(const std::filesystem::path& path, bool read_only) noexcept {
  try {
    // libpmemobj reads the header of a file too short to hold one through a mapping past its end (SIGBUS
    // on an empty file); such a file is no pool.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return make_error(errc::not_found, "no pool at " + path.string());
      return tl::unexpected(errno_error(errno, "examining pool " + path.string()));
    }
    if (static_cast<std::uint64_t>(st.st_size) < min_pool_bytes) {
      return make_error(errc::corruption, "pool " + path.string() + " is " + std::to_string(st.st_size) +
                                              " bytes, smaller than any libpmemobj pool (" +
                                              std::to_string(min_pool_bytes) + "): truncated or not a pool");
    }
    PMEMobjpool* pool = nullptr;
    {
      const copy_on_write_scope cow(read_only);
      pool = pmemobj_open(path.c_str(), pool_layout);
    }
    if (pool == nullptr) {
      const int err = errno;
      if (err == ENOENT) return make_error(errc::not_found, "no pool at " + path.string());
      if (err == EWOULDBLOCK || err == EBUSY) {  // EWOULDBLOCK == EAGAIN on Linux
        return make_error(errc::busy, "pool " + path.string() + " is open in another process or handle");
      }
      if (err == EINVAL) {
        // libpmemobj's header checks: wrong layout, bad checksum, truncated, not a pool at all.
        return tl::unexpected(
            error(errc::corruption, std::string(pool_error(err, "opening pool " + path.string()).message())));
      }
      return tl::unexpected(pool_error(err, "opening pool " + path.string()));
    }
    std::unique_ptr<pool_region> region = adopt_pool(pool, path, read_only);
    const std::string what = "pool " + path.string();
    if (pmemobj_root_size(pool) < sizeof(pool_root)) {
      return make_error(errc::corruption, what + " has no tessel root object");
    }
    const PMEMoid root_oid = pmemobj_root(pool, sizeof(pool_root));
    region->uuid_lo_ = root_oid.pool_uuid_lo;
    region->root_ = static_cast<pool_root*>(pmemobj_direct(root_oid));
    const pool_root& r = *region->root_;
    if (auto ok = check_root(r, what); !ok) return tl::unexpected(std::move(ok.error()));
    if (r.log_offset == 0 || r.log_offset > region->pool_bytes_ || r.log_bytes > region->pool_bytes_ - r.log_offset) {
      return make_error(errc::corruption, what + ": the operation log area lies outside the pool");
    }
    region->allocated_bytes_ = r.meta.allocated_bytes;
    if (auto ok = region->register_classes(); !ok) return tl::unexpected(std::move(ok.error()));
    return region;
  } catch (...) {
    return make_error(errc::no_memory, "opening pool " + path.string());
  }
}

pool_region::pool_region(PMEMobjpool* pool, std::filesystem::path path, bool read_only) noexcept
    : pool_(pool), base_(reinterpret_cast<std::byte*>(pool)), path_(std::move(path)), read_only_(read_only) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) pool_bytes_ = static_cast<std::uint64_t>(st.st_size);
  is_pmem_ = pmem_is_pmem(base_, pool_bytes_) != 0;
}

pool_region::~pool_region() {
  // Unpublished work is dropped, as a crash would drop it.
  release_spare();
  if (!reservations_.empty()) pmemobj_cancel(pool_, reservations_.data(), reservations_.size());
  if (!frees_.empty()) pmemobj_cancel(pool_, frees_.data(), frees_.size());
  pmemobj_close(pool_);
}

result<void> pool_region::register_classes() noexcept {
  try {
    class_ids_.assign(fine_classes + coarse_classes, 0);
    for (std::size_t i = 0; i < class_ids_.size(); ++i) {
      pobj_alloc_class_desc desc{};
      desc.unit_size = class_unit(i);
      desc.alignment = 0;
      desc.units_per_block = static_cast<unsigned>(std::max<std::size_t>(1, run_bytes / desc.unit_size));
      desc.header_type = POBJ_HEADER_NONE;
      // Without a class of its own a size falls back to the default classes (id 0): slower, not wrong.
      if (pmemobj_ctl_set(pool_, "heap.alloc_class.new.desc", &desc) == 0) class_ids_[i] = desc.class_id;
    }
  } catch (...) {
    return make_error(errc::no_memory, "registering allocation classes");
  }
  return {};
}

unsigned pool_region::class_for(std::size_t object_size) const noexcept {
  if (object_size <= fine_limit) return class_ids_[(object_size + fine_step - 1) / fine_step - 1];
  if (object_size <= coarse_limit) {
    return class_ids_[fine_classes + (object_size - fine_limit + coarse_step - 1) / coarse_step - 1];
  }
  return 0;
}

std::uint64_t pool_region::allocate(std::size_t size) noexcept {
  const std::size_t object_size = size + block_header_bytes;
  const unsigned cls = class_for(object_size);
  pobj_action act{};
  const PMEMoid oid = pmemobj_xreserve(pool_, &act, object_size, 0, cls != 0 ? POBJ_CLASS_ID(cls) : 0);
  if (TESSEL_UNLIKELY(OID_IS_NULL(oid))) {
    note_allocation_failure(size);
    return 0;
  }
  const std::uint64_t offset = oid.off + block_header_bytes;
  try {
    reservations_.push_back(act);
    new_blocks_.push_back({oid.off, object_size});
    reserved_at_.emplace(oid.off, reservations_.size() - 1);
  } catch (...) {
    if (new_blocks_.size() > reserved_at_.size()) new_blocks_.pop_back();
    if (reservations_.size() > new_blocks_.size()) reservations_.pop_back();
    pmemobj_cancel(pool_, &act, 1);
    last_error_ = error(errc::no_memory, "recording a reservation");
    return 0;
  }
  allocated_bytes_ += object_size;
  return offset;
}

void pool_region::deallocate(std::uint64_t offset, std::size_t size) noexcept {
  allocated_bytes_ -= size + block_header_bytes;
  const std::uint64_t object = offset - block_header_bytes;
  if (const auto it = reserved_at_.find(object); it != reserved_at_.end()) {
    // Reserved in this epoch and never published: give it back now.
    const std::size_t at = it->second;
    reserved_at_.erase(it);
    pmemobj_cancel(pool_, &reservations_[at], 1);
    const std::size_t last = reservations_.size() - 1;
    if (at != last) {
      reservations_[at] = reservations_[last];
      new_blocks_[at] = new_blocks_[last];
      reserved_at_[new_blocks_[at].offset] = at;
    }
    reservations_.pop_back();
    new_blocks_.pop_back();
    return;
  }
  // Published: freed by the next publish, together with the commit that stops reaching it.
  try {
    frees_.emplace_back();
    pmemobj_defer_free(pool_, oid_at(object), &frees_.back());
  } catch (...) {
    // Without room to queue the free the object leaks until the next leak scan (tessel recover) finds it.
  }
}

void pool_region::hold_spare() noexcept {
  if (spare_held_ || read_only_) return;
  // 1/32 of the heap, at least 1 MiB (four of libpmemobj's 256 KiB chunks), at most 64 MiB: room for the
  // redo log of a publish of max_pending_pool_actions and for the path copies of deletes until it.
  const std::uint64_t heap = pool_bytes_ - std::min(pool_bytes_, root_->log_bytes);
  const std::uint64_t bytes = std::clamp<std::uint64_t>(heap / 32, 1ULL << 20, 64ULL << 20);
  const PMEMoid oid = pmemobj_xreserve(pool_, &spare_, bytes, 0, 0);
  spare_held_ = !OID_IS_NULL(oid);
}

void pool_region::release_spare() noexcept {
  if (!spare_held_) return;
  pmemobj_cancel(pool_, &spare_, 1);
  spare_held_ = false;
}

index::region_usage pool_region::usage() const noexcept {
  // Committed: what the heap may hand out (the pool less its log area); free: the rest of it, an upper
  // bound since allocation classes round up and libpmemobj keeps its own metadata.
  const std::uint64_t heap = pool_bytes_ - std::min(pool_bytes_, root_->log_bytes);
  return {allocated_bytes_, heap - std::min(heap, allocated_bytes_), heap};
}

void pool_region::note_allocation_failure(std::size_t size) noexcept {
  const int err = errno;
  try {
    if (err == ENOMEM || err == ENOSPC || err == 0) {
      last_error_ = error(errc::no_space, "pool " + path_.string() + " (" + std::to_string(pool_bytes_) +
                                              " bytes) has no room for a block of " + std::to_string(size) + " bytes");
    } else {
      last_error_ = pool_error(err, "reserving a block of " + std::to_string(size) + " bytes");
    }
  } catch (...) {
    last_error_ = error(errc::no_space);
  }
}

result<void> pool_region::persist(std::span<const pool_range> ranges) const noexcept {
  if (is_pmem_) {
    for (const pool_range& r : ranges) pmem_flush(base_ + r.offset, r.size);
    pmem_drain();
    return {};
  }
  // msync works on whole pages: merge the ranges' pages into runs, one msync each.
  try {
    std::vector<pool_range> pages;
    pages.reserve(ranges.size());
    constexpr std::uint64_t page = 4096;
    for (const pool_range& r : ranges) {
      const std::uint64_t begin = r.offset & ~(page - 1);
      pages.push_back({begin, ((r.offset + r.size + page - 1) & ~(page - 1)) - begin});
    }
    std::sort(pages.begin(), pages.end(), [](const pool_range& a, const pool_range& b) { return a.offset < b.offset; });
    std::size_t i = 0;
    while (i < pages.size()) {
      std::uint64_t begin = pages[i].offset;
      std::uint64_t end = begin + pages[i].size;
      for (++i; i < pages.size() && pages[i].offset <= end; ++i) end = std::max(end, pages[i].offset + pages[i].size);
      if (pmem_msync(base_ + begin, end - begin) != 0) {
        return tl::unexpected(errno_error(errno, "msync of pool " + path_.string()));
      }
    }
  } catch (...) {
    return make_error(errc::no_memory, "listing pages to persist");
  }
  return {};
}

result<void> pool_region::publish_meta(const pool_meta& meta, bool with_pending) noexcept {
  try {
    pool_root next = *root_;
    next.meta = meta;
    next.checksum = root_checksum(next);
    const std::size_t with_root = with_pending ? std::min(frees_.size(), frees_with_root) : 0;
    publishing_.clear();
    publishing_.reserve(reservations_.size() + with_root + sizeof(pool_meta) / 8 + 1);
    if (with_pending) publishing_.insert(publishing_.end(), reservations_.begin(), reservations_.end());
    publishing_.insert(publishing_.end(), frees_.end() - static_cast<std::ptrdiff_t>(with_root), frees_.end());
    // Every field of the meta, and the checksum over them, in the same publish.
    auto set = [&](std::uint64_t* field, std::uint64_t value) {
      publishing_.emplace_back();
      pmemobj_set_value(pool_, &publishing_.back(), field, value);
    };
    std::uint64_t* const fields = &root_->meta.generation;
    const std::uint64_t* const values = &next.meta.generation;
    for (std::size_t i = 0; i < sizeof(pool_meta) / sizeof(std::uint64_t); ++i) set(fields + i, values[i]);
    set(&root_->checksum, next.checksum);
    if (pmemobj_publish(pool_, publishing_.data(), publishing_.size()) != 0) {
      return tl::unexpected(pool_error(errno, "publishing a commit to pool " + path_.string()));
    }
  } catch (...) {
    return make_error(errc::no_memory, "preparing a publish");
  }
  if (with_pending) {
    reservations_.clear();
    new_blocks_.clear();
    reserved_at_.clear();
    frees_.resize(frees_.size() - std::min(frees_.size(), frees_with_root));
  }
  return {};
}

result<void> pool_region::publish(const pool_meta& meta) noexcept {
  // A clean close whose frees do not all go with the root publishes the root without the flag first, so
  // that a crash before the last of them leaves an unclean pool, whose next open audits the leak.
  pool_meta first = meta;
  if (frees_.size() > frees_with_root) first.flags &= ~static_cast<std::uint64_t>(pool_clean_close);
  if (auto ok = publish_meta(first, true); !ok) return ok;
  // The rest: objects the root just published no longer reaches, so a crash before their publish only
  // leaks them until the next open's audit. One that fails (no room for even this much redo log) stays
  // queued, and the next commit publishes it.
  while (!frees_.empty()) {
    const std::size_t n = std::min(frees_.size(), free_batch);
    if (pmemobj_publish(pool_, frees_.data() + (frees_.size() - n), n) != 0) break;
    frees_.resize(frees_.size() - n);
  }
  // Best effort: without the flag the next open audits, which finds nothing to free.
  if (first.flags != meta.flags && frees_.empty()) (void)publish_meta(meta, false);
  return {};
}

result<std::vector<pool_range>> pool_region::objects() const noexcept {
  try {
    std::vector<pool_range> out;
    for (PMEMoid oid = pmemobj_first(pool_); !OID_IS_NULL(oid); oid = pmemobj_next(oid)) {
      if (oid.off == root_->log_offset) continue;
      out.push_back({oid.off, pmemobj_alloc_usable_size(oid)});
    }
    std::sort(out.begin(), out.end(), [](const pool_range& a, const pool_range& b) { return a.offset < b.offset; });
    return out;
  } catch (...) {
    return make_error(errc::no_memory, "listing the objects of pool " + path_.string());
  }
}

result<void> pool_region::free_objects(std::span<const std::uint64_t> object_offsets) noexcept {
  constexpr std::size_t batch = free_batch;
  try {
    std::vector<pobj_action> acts;
    acts.reserve(batch);
    for (std::size_t i = 0; i < object_offsets.size(); i += batch) {
      acts.clear();
      for (std::size_t j = i; j < std::min(object_offsets.size(), i + batch); ++j) {
        acts.emplace_back();
        pmemobj_defer_free(pool_, oid_at(object_offsets[j]), &acts.back());
      }
      if (pmemobj_publish(pool_, acts.data(), acts.size()) != 0) {
        return tl::unexpected(pool_error(errno, "freeing leaked objects of pool " + path_.string()));
      }
    }
  } catch (...) {
    return make_error(errc::no_memory, "freeing leaked objects");
  }
  return {};
}

}  // namespace tessel::pmem
