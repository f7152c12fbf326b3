// pool_region: the Region (index/region.hpp) of a pmem store -- the tree's blocks as objects of a libpmemobj
// pool, on DAX persistent memory or on any file.
//
// Allocation is transient until a commit: allocate() reserves an object (pmemobj_xreserve, from an
// allocation class sized for tree blocks), deallocate() cancels a reservation of this epoch or queues a
// deferred free of a published object. publish() then makes, in one pmemobj_publish, every reservation,
// the deferred frees (up to a bound) and the new meta in the root object durable at once -- so after a crash
// the pool holds exactly the last published tree: reservations vanish with the process, and libpmemobj's
// redo log finishes or drops a publish as a whole. Frees past the bound follow in publishes of their own:
// the new root no longer reaches those objects, so a crash before them only leaks them until the next
// open's audit. The caller flushes the new blocks' bytes before publishing (persist()).
//
// Each object is an 8-byte block header (as in the mmap backend: size and checksum, sealed at commit) and
// the block; the offset handed to the tree is the block's, relative to the pool's base address, which is
// also what a PMEMoid's `off` is relative to.
//
// Durability: on a pmem or DAX mapping (pmem_is_pmem), persist() is cache-line flushes and one drain, no
// system call; on a regular file it is msync of the touched pages (libpmem's msync path).
//
// Thread safety: one writer (allocate, deallocate, publish); base() and reading blocks from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <libpmemobj.h>

#include "tessel/error.hpp"

#include "common/platform.hpp"
#include "index/region.hpp"
#include "pmem/pool_format.hpp"

namespace tessel::pmem {

/// Bytes of [offset, offset + size) of the pool.
struct pool_range {
  std::uint64_t offset;
  std::uint64_t size;
};

class pool_region {
 public:
  /// Bytes before each block (u32 size, u32 checksum), as in a store file.
  static constexpr std::size_t block_header_bytes = 8;
  /// The smallest pool libpmemobj creates.
  static constexpr std::uint64_t min_pool_bytes = PMEMOBJ_MIN_POOL;

  struct create_options {
    std::uint64_t pool_bytes = 1ULL << 30;
    std::uint64_t log_bytes = 16ULL << 20;  ///< the operation log area inside the pool
    std::uint32_t file_mode = 0600;
    std::array<std::uint8_t, 16> id{};
  };
  /// Creates the pool file `path` (it must not exist) with an empty tree. Errors: invalid_argument (sizes),
  /// no_space, io_error.
  [[nodiscard]] static result<std::unique_ptr<pool_region>> create(const std::filesystem::path& path,
                                                                   const create_options& opts) noexcept;
  /// Opens the pool file `path`. `read_only` maps it copy-on-write: nothing this handle does reaches the
  /// file. Errors: not_found, busy (open elsewhere), corruption (not a tessel pool, damaged pool header or
  /// root object), version_mismatch, io_error.
  [[nodiscard]] static result<std::unique_ptr<pool_region>> open(const std::filesystem::path& path,
                                                                 bool read_only) noexcept;

  pool_region(const pool_region&) = delete;
  pool_region& operator=(const pool_region&) = delete;
  /// Cancels what was not published and closes the pool.
  ~pool_region();

  // ---- The Region concept ----

  [[nodiscard]] std::uint64_t allocate(std::size_t size) noexcept;
  void deallocate(std::uint64_t offset, std::size_t size) noexcept;
  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] index::region_usage usage() const noexcept;
  [[nodiscard]] error last_error() const noexcept { return last_error_; }

  // ---- Beyond the concept ----

  [[nodiscard]] bool contains(const void* p) const noexcept {
    const auto* b = static_cast<const std::byte*>(p);
    return b >= base_ && b < base_ + pool_bytes_;
  }
  [[nodiscard]] bool is_pmem() const noexcept { return is_pmem_; }
  [[nodiscard]] bool read_only() const noexcept { return read_only_; }
  [[nodiscard]] std::uint64_t pool_bytes() const noexcept { return pool_bytes_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// The root object: the last published commit, and the log area.
  [[nodiscard]] const pool_root& root() const noexcept { return *root_; }
  [[nodiscard]] PMEMobjpool* pool() const noexcept { return pool_; }

  /// Objects reserved since the last publish and not cancelled: (object offset, object size), the block
  /// header included. A commit seals and persists exactly these.
  [[nodiscard]] std::span<const pool_range> new_blocks() const noexcept { return new_blocks_; }
  /// Reservations and deferred frees waiting for publish (each is one redo-log action).
  [[nodiscard]] std::size_t pending_actions() const noexcept { return reservations_.size() + frees_.size(); }

  /// Makes the bytes of `ranges` durable: flushes and one drain on pmem, msync of their pages otherwise.
  /// Errors: io_error (msync failed).
  [[nodiscard]] result<void> persist(std::span<const pool_range> ranges) const noexcept;
  /// Flushes [p, p + n) without waiting; drain() waits for every flush so far.
  void flush(const void* p, std::size_t n) const noexcept;
  void drain() const noexcept;

  /// Publishes every reservation, the deferred frees up to frees_with_root and `meta` (with a new root
  /// checksum) in one pmemobj_publish, then the other frees in batches of free_batch (one that fails stays
  /// queued for the next publish); a clean-close flag in `meta` then comes in a publish of its own, after
  /// the last free. Errors: no_memory (libpmemobj could not extend its redo log); io_error. After an error
  /// nothing was published.
  [[nodiscard]] result<void> publish(const pool_meta& meta) noexcept;
  /// Deferred frees that go with the root in its publish. A publish's redo log grows with its actions,
  /// from the heap, which a full pool lacks: clear() of a full 16 MiB pool retires ~80K blocks at once.
  static constexpr std::size_t frees_with_root = 4096;
  /// Frees per publish after the root's (and per publish of free_objects).
  static constexpr std::size_t free_batch = 1024;

  /// The spare: heap space held back by a reservation (never published) so that a full pool can still
  /// commit and delete. libpmemobj extends its redo log from the heap when a publish carries many actions,
  /// and a copy-on-write delete needs new nodes before it frees old ones; both would fail in a pool that
  /// ordinary writes filled. A commit releases the spare around its publish; a delete that finds the pool
  /// full releases it, and the commit after it takes it back. Holding it again may fail while the pool is
  /// full; it is retried at the next commit.
  void hold_spare() noexcept;
  void release_spare() noexcept;
  [[nodiscard]] bool spare_held() const noexcept { return spare_held_; }

  /// Every object of the pool but the root and the log area: (object offset, usable size), in pool order.
  [[nodiscard]] result<std::vector<pool_range>> objects() const noexcept;
  /// Recovery: the tree's objects' bytes as a walk counted them (after freeing leaked objects).
  void set_allocated_bytes(std::uint64_t bytes) noexcept { allocated_bytes_ = bytes; }
  /// Frees published objects (object offsets from objects()) now, in batches of published deferred frees.
  /// Errors: as publish.
  [[nodiscard]] result<void> free_objects(std::span<const std::uint64_t> object_offsets) noexcept;

 private:
  pool_region(PMEMobjpool* pool, std::filesystem::path path, bool read_only) noexcept;
  /// Publishes `meta` with a new root checksum, and with `with_pending` every reservation and the deferred
  /// frees up to frees_with_root, in one pmemobj_publish.
  [[nodiscard]] result<void> publish_meta(const pool_meta& meta, bool with_pending) noexcept;
  /// The region owning `pool`. Throws std::bad_alloc, having closed the pool.
  [[nodiscard]] static std::unique_ptr<pool_region> adopt_pool(PMEMobjpool* pool, const std::filesystem::path& path,
                                                               bool read_only);
  [[nodiscard]] result<void> register_classes() noexcept;
  [[nodiscard]] unsigned class_for(std::size_t object_size) const noexcept;
  void note_allocation_failure(std::size_t size) noexcept;
  [[nodiscard]] PMEMoid oid_at(std::uint64_t object_offset) const noexcept { return {uuid_lo_, object_offset}; }

  PMEMobjpool* pool_;
  std::byte* base_;
  std::filesystem::path path_;
  bool read_only_;
  bool is_pmem_ = false;
  std::uint64_t pool_bytes_ = 0;
  std::uint64_t uuid_lo_ = 0;
  pool_root* root_ = nullptr;
  std::uint64_t allocated_bytes_ = 0;  // objects' usable bytes: published + reserved - freed
  // Allocation class ids by object size: small_classes_[size / 16] up to small_limit, then by 64 bytes.
  std::vector<unsigned> class_ids_;
  std::vector<pobj_action> reservations_;
  std::vector<pool_range> new_blocks_;                          // parallel to reservations_
  std::unordered_map<std::uint64_t, std::size_t> reserved_at_;  // object offset -> index in reservations_
  std::vector<pobj_action> frees_;
  std::vector<pobj_action> publishing_;  // scratch for publish()
  pobj_action spare_{};
  bool spare_held_ = false;
  error last_error_;
};

static_assert(index::region<pool_region>);

/// A libpmemobj failure as a tessel error: errno mapped as errno_error does, pmemobj_errormsg() appended.
[[nodiscard]] error pool_error(int err, const std::string& context);

}  // namespace tessel::pmem
