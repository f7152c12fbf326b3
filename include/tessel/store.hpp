// tessel::store: an ordered key-value state store with the laminar StateStore surface.
//
// Thread safety: const methods may be called concurrently with each other. A dram store's non-const calls
// need external synchronisation (one writer); a durable store's writes may come from several threads (they
// serialise inside, and share syncs). Either way no reader of the store may run while a write does; a
// snapshot (store::snapshot()) can be read from any thread meanwhile.
#pragma once

#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tessel/bytes.hpp"
#include "tessel/cursor.hpp"
#include "tessel/error.hpp"
#include "tessel/limits.hpp"
#include "tessel/options.hpp"
#include "tessel/snapshot.hpp"

namespace tessel {

namespace detail {
class store_impl;
struct store_access;  // the CLI's and tests' way to the internals
}  // namespace detail

/// Memory the store uses, in bytes.
struct memory_usage {
  std::size_t live_bytes = 0;       ///< bytes in live blocks: leaves (keys, values, headers) and inner nodes
  std::size_t leaf_bytes = 0;       ///< the part of live_bytes held by leaves
  std::size_t free_bytes = 0;       ///< freed blocks kept for reuse
  std::size_t committed_bytes = 0;  ///< region memory touched so far (live + free + never-used tail)
};

/// One write of a batch (store::write_batch, sharded_store::write_batch).
struct write_op {
  bool erase = false;
  std::string key;
  std::string value;  ///< a put's value
};

/// An ordered key-value store over one adaptive radix tree.
class store {
 public:
  /// Opens a new in-memory store (backend dram). Errors: invalid_argument (bad options; a durable backend,
  /// which needs a path), no_memory (address space refused).
  [[nodiscard]] static result<std::unique_ptr<store>> open(const options& opts) noexcept;
  /// Opens or creates (options.mode) the durable store in directory `path` (backend mmap), recovering its
  /// last durable state after a crash. Errors: invalid_argument (backend dram; create_new where a store
  /// exists), not_found (open_existing where there is none), busy (open in another handle or process),
  /// corruption (naming what is damaged), version_mismatch (a newer format), io_error, no_space, no_memory.
  [[nodiscard]] static result<std::unique_ptr<store>> open(const std::string& path, const options& opts) noexcept;

  store(const store&) = delete;
  store& operator=(const store&) = delete;
  ~store();

  // ---- Point access ----

  /// The value of `key`. Errors: not_found (no such key; allocates nothing), invalid_argument (key longer
  /// than max_key_size). Lifetime: the view is valid until the next non-const call. Hot path: no
  /// allocation, lock or virtual call.
  [[nodiscard]] result<value_view> get(key_view key) const noexcept;
  /// True when `key` is present. An oversize key is never present.
  [[nodiscard]] bool contains(key_view key) const noexcept;

  /// Stores `value` under `key`, replacing any previous value, durable as options.durability says.
  /// Errors: invalid_argument (key or value over its limit), no_space (region reservation or disk full),
  /// no_memory; durable stores also not_supported (read-only or closed), io_error and fatal (a failed
  /// sync: the store then refuses writes until reopened). On error before the write applied (all but the
  /// sync errors) the store is unchanged.
  [[nodiscard]] result<void> put(key_view key, value_view value) noexcept;
  /// put with its own durability (ignored by dram stores).
  [[nodiscard]] result<void> put(key_view key, value_view value, durability d) noexcept;
  /// Removes `key`; true when it was present. Removing a missing key is not an error.
  [[nodiscard]] result<bool> erase(key_view key) noexcept;
  [[nodiscard]] result<bool> erase(key_view key, durability d) noexcept;
  /// Applies `ops` in order as one write, durable as options.durability says: a crash keeps all of them or
  /// none (one batch record in the operation log), and room for all of them is made before the first, so
  /// a full region or disk is a no_space that changed nothing. Errors: those of put, and invalid_argument
  /// for a batch larger than a log record can hold (4 GiB); fatal when a write still fails after earlier
  /// ones were applied (the room made first leaves that to pathological trees) -- a durable store then
  /// refuses writes until a reopen takes it back to before the batch; a dram store keeps those writes.
  [[nodiscard]] result<void> write_batch(std::span<const write_op> ops) noexcept;
  /// write_batch with its own durability (ignored by dram stores).
  [[nodiscard]] result<void> write_batch(std::span<const write_op> ops, durability d) noexcept;
  /// The value of `key`, first storing `default_value` under it when absent.
  [[nodiscard]] result<value_view> get_or_insert(key_view key, value_view default_value) noexcept;

  // ---- Typed access ----

  /// Stores the object representation of a trivially copyable `T`.
  template <class T>
    requires std::is_trivially_copyable_v<T>
  [[nodiscard]] result<void> put_as(key_view key, const T& value) noexcept {
    return put(key, bytes_view(reinterpret_cast<const std::byte*>(&value), sizeof(T)));
  }
  /// Reads a `T` stored by put_as. Errors: not_found; invalid_argument when the stored size is not sizeof(T).
  template <class T>
    requires std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>
  [[nodiscard]] result<T> get_as(key_view key) const noexcept {
    auto v = get(key);
    if (!v) return tl::unexpected(v.error());
    if (v->size() != sizeof(T)) return typed_size_error(v->size(), sizeof(T));
    T out;
    std::memcpy(&out, v->data(), sizeof(T));
    return out;
  }
  [[nodiscard]] result<void> put_string(std::string_view key, std::string_view value) noexcept {
    return put(as_bytes(key), as_bytes(value));
  }
  /// A copy of the value as a string. Errors: as get; no_memory.
  [[nodiscard]] result<std::string> get_string(std::string_view key) const noexcept;

  // ---- Ordered access ----

  /// A cursor, not yet positioned (invalid until a seek).
  [[nodiscard]] cursor new_cursor() const noexcept;
  /// All entries whose key starts with `prefix`, in key order. O(log n + k).
  [[nodiscard]] scan_range prefix_scan(key_view prefix) const noexcept;
  /// All entries with start <= key < end, in key order. O(log n + k). Empty when end <= start.
  [[nodiscard]] scan_range range_scan(key_view start, key_view end) const noexcept;

  // ---- Size ----

  /// Number of entries. O(1).
  [[nodiscard]] std::size_t len() const noexcept;
  [[nodiscard]] bool is_empty() const noexcept { return len() == 0; }
  /// Bytes the store holds for its entries and index (memory_usage().live_bytes).
  [[nodiscard]] std::size_t size_bytes() const noexcept;
  [[nodiscard]] memory_usage memory() const noexcept;

  /// Removes every entry and returns their memory to the region's free lists (a durable store's, once a
  /// commit no longer reaches them). Errors: as put.
  [[nodiscard]] result<void> clear() noexcept;
  /// Rebuilds the index from the store's own entries in key order: the same contents, each node of the
  /// smallest kind for its children, and leaves placed in key order, so ordered scans read memory nearly
  /// sequentially (after random inserts a scan of a large store waits on a random memory line per key).
  /// O(n); needs room for a second copy of the entries while it runs, and frees the old copy after (a
  /// durable store's once the commit compact() ends with no longer reaches it). Snapshots keep reading what
  /// they froze. Invalidates cursors, like any write. Errors: no_space or no_memory (the store unchanged);
  /// durable stores also not_supported (read-only, closed, or a pmem store) and as checkpoint().
  /// `progress`, when set, is called with the entries copied so far every 65,536 (from the calling thread).
  [[nodiscard]] result<void> compact(const std::function<void(std::uint64_t entries)>& progress = {}) noexcept;

  // ---- Snapshots (include/tessel/snapshot.hpp) ----

  /// An immutable version of the store as it is now. O(1): nothing is copied; later writes copy what they
  /// change. Call it where writes are made (a dram store's writer thread; any thread of a durable store).
  /// Errors: no_memory.
  [[nodiscard]] result<tessel::snapshot> snapshot() noexcept;
  /// Publishes the store as it is now: the version published() returns from then on. O(1), like snapshot().
  /// Durable stores publish every commit by themselves. Call it where writes are made. Errors: no_memory.
  [[nodiscard]] result<void> publish() noexcept;
  /// The last published version, readable with no lock from any thread while writes go on: a durable
  /// store's last commit (checkpoint policy, checkpoint(), each sync write), or what publish() froze last;
  /// an empty handle before the first. Any thread, any time before close(); the version stays readable while
  /// the handle is held.
  [[nodiscard]] tessel::snapshot published() const noexcept;
  /// Makes `snap`, a snapshot of this store, the store's contents again; every change after it is undone.
  /// O(changes since it), not O(size). A durable store commits right away (the log cannot express it), so
  /// the restore is durable when the call returns. Errors: invalid_argument (an empty handle or another
  /// store's snapshot); durable stores as checkpoint().
  [[nodiscard]] result<void> restore(const tessel::snapshot& snap) noexcept;

  // ---- Named snapshots ----

  /// Commits the store and keeps the committed version under `name`: it survives close, kill -9 and
  /// reopen until drop_named_snapshot(), and pins only the blocks it reaches, as any snapshot. Durable
  /// when the call returns. A dram store keeps the name as long as the store. Errors: invalid_argument (a
  /// name that is empty, over 128 bytes or holds a control byte; a name in use), not_supported (read-only
  /// or closed); as checkpoint(); io_error, no_space (writing the catalog: nothing is named then).
  [[nodiscard]] result<named_snapshot_info> create_named_snapshot(std::string_view name) noexcept;
  /// Every named snapshot, ordered by name. Any thread. Errors: no_memory.
  [[nodiscard]] result<std::vector<named_snapshot_info>> named_snapshots() const noexcept;
  /// A handle on the version named `name`, read and restored like any snapshot. Any thread.
  /// Errors: not_found, no_memory.
  [[nodiscard]] result<tessel::snapshot> open_named_snapshot(std::string_view name) const noexcept;
  /// Forgets `name`, durably. Blocks only it reached are freed once no handle of it remains (a handle from
  /// open_named_snapshot still reads it). Errors: not_found, not_supported (read-only or closed), io_error
  /// (writing the catalog: the name stays).
  [[nodiscard]] result<void> drop_named_snapshot(std::string_view name) noexcept;

  // ---- Durability (no-ops returning success for dram stores) ----

  /// Makes every write so far durable.
  [[nodiscard]] result<void> flush() noexcept;
  /// Commits the tree, so recovery needs no log before this point. Errors: io_error, fatal.
  [[nodiscard]] result<void> checkpoint() noexcept;
  /// Makes everything durable and marks the store cleanly closed; later writes fail with not_supported.
  /// The handle stays readable; its lock is released when it is destroyed. The destructor closes a store
  /// that was not closed, ignoring errors: call close() to see them.
  [[nodiscard]] result<void> close() noexcept;
  /// True for stores that live in files (backend mmap).
  [[nodiscard]] bool is_durable() const noexcept;

 private:
  friend struct detail::store_access;
  explicit store(std::unique_ptr<detail::store_impl> impl) noexcept;
  [[nodiscard]] static tl::unexpected<error> typed_size_error(std::size_t stored, std::size_t wanted);
  std::unique_ptr<detail::store_impl> impl_;
};

}  // namespace tessel
