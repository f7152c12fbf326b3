// tessel::store: an ordered key-value state store with the laminar StateStore surface.
//
// Thread safety: const methods may be called concurrently with each other. A dram store's non-const calls
// need external synchronisation (one writer); a durable store's writes may come from several threads (they
// serialise inside, and share syncs). Either way no reader may run while a write does: lock-free readers
// on published versions come with snapshots.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"
#include "tessel/limits.hpp"
#include "tessel/options.hpp"

namespace tessel {

namespace detail {
class store_impl;
class cursor_impl;
struct store_access;  // the CLI's and tests' way to the internals
}  // namespace detail

/// One key-value pair seen by a cursor or a scan.
/// Lifetime: both views stay valid until the next non-const call on the store.
struct entry {
  key_view key;
  value_view value;
};

/// A bidirectional position in a store's key order.
///
/// Lifetime: a cursor must not outlive its store; any non-const call on the store invalidates it
/// (use it again only after a seek). Thread safety: one thread at a time.
class cursor {
 public:
  cursor(cursor&&) noexcept;
  cursor& operator=(cursor&&) noexcept;
  ~cursor();

  /// True while the cursor is on an entry.
  [[nodiscard]] bool valid() const noexcept;
  /// REQUIRES: valid().
  [[nodiscard]] key_view key() const noexcept;
  /// REQUIRES: valid().
  [[nodiscard]] value_view value() const noexcept;

  void seek_to_first() noexcept;
  void seek_to_last() noexcept;
  /// Moves to the first key >= `key` (lower bound); invalid when there is none.
  void seek(key_view key) noexcept;
  /// Moves to the last key <= `key`; invalid when there is none.
  void seek_for_prev(key_view key) noexcept;
  /// REQUIRES: valid(). Becomes invalid after the last key.
  void next() noexcept;
  /// REQUIRES: valid(). Becomes invalid before the first key.
  void prev() noexcept;

 private:
  friend class store;
  explicit cursor(std::unique_ptr<detail::cursor_impl> impl) noexcept;
  std::unique_ptr<detail::cursor_impl> impl_;
};

/// The entries of a scan in ascending key order: [start, end) or all keys with a prefix. Usable with range-for:
/// `for (const entry& e : store.prefix_scan(p))`. Lifetime and invalidation as for cursor.
class scan_range {
 public:
  class iterator {
   public:
    using value_type = entry;
    using difference_type = std::ptrdiff_t;
    const entry& operator*() const noexcept { return current_; }
    const entry* operator->() const noexcept { return &current_; }
    iterator& operator++() noexcept;
    bool operator==(std::default_sentinel_t) const noexcept { return range_ == nullptr; }

   private:
    friend class scan_range;
    explicit iterator(scan_range* range) noexcept;
    void load() noexcept;
    scan_range* range_;
    entry current_{};
  };

  [[nodiscard]] iterator begin() noexcept;
  [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend class store;
  enum class bound_kind : std::uint8_t { none, prefix, end_key };
  scan_range(cursor c, std::string start, std::string bound, bound_kind kind) noexcept;
  [[nodiscard]] bool in_bounds() const noexcept;

  cursor cursor_;
  std::string start_;
  std::string bound_;
  bound_kind kind_;
};

/// Memory the store uses, in bytes.
struct memory_usage {
  std::size_t live_bytes = 0;       ///< bytes in live blocks: leaves (keys, values, headers) and inner nodes
  std::size_t leaf_bytes = 0;       ///< the part of live_bytes held by leaves
  std::size_t free_bytes = 0;       ///< freed blocks kept for reuse
  std::size_t committed_bytes = 0;  ///< region memory touched so far (live + free + never-used tail)
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
