// tessel::cursor and tessel::scan_range: ordered access to a store or to a snapshot of one, in unsigned byte
// order of the keys.
//
// Thread safety: one thread at a time per cursor or range.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>

#include "tessel/bytes.hpp"

namespace tessel {

class store;
class snapshot;

namespace detail {
class cursor_impl;
}  // namespace detail

/// One key-value pair seen by a cursor or a scan.
/// Lifetime: both views stay valid until the next non-const call on the store -- or, read from a snapshot,
/// while the snapshot is held.
struct entry {
  key_view key;
  value_view value;
};

/// A bidirectional position in a store's key order.
///
/// Lifetime: a cursor must not outlive its store; any non-const call on the store invalidates it
/// (use it again only after a seek). A cursor of a snapshot stays valid while the snapshot is held, whatever
/// the store does meanwhile. Thread safety: one thread at a time.
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
  /// Moves to the first key that starts with `prefix` and keeps next() among them: the cursor becomes
  /// invalid after the last one, and reads nothing ahead beyond them. prev() is a plain step.
  void seek_in_prefix(key_view prefix) noexcept;
  /// REQUIRES: valid(). Becomes invalid after the last key.
  void next() noexcept;
  /// REQUIRES: valid(). Becomes invalid before the first key.
  void prev() noexcept;

 private:
  friend class store;
  friend class snapshot;
  friend class scan_range;
  explicit cursor(std::unique_ptr<detail::cursor_impl> impl) noexcept;
  /// seek(start) for a scan of [start, end): reads ahead no further than the end. `end` outlives the scan.
  void seek_range(key_view start, key_view end) noexcept;
  std::unique_ptr<detail::cursor_impl> impl_;
};

/// The entries of a scan in ascending key order: [start, end) or all keys with a prefix. Usable with range-for:
/// `for (const entry& e : store.prefix_scan(p))`. Lifetime and invalidation as for cursor.
///
/// The range takes entries from its cursor a batch at a time, so a step of the iterator is an inline index
/// increment and the out-of-line work (the cursor's steps, the end's comparison) runs in one loop per batch.
class scan_range {
 public:
  class iterator {
   public:
    using value_type = entry;
    using difference_type = std::ptrdiff_t;
    const entry& operator*() const noexcept { return range_->batch_[range_->batch_at_]; }
    const entry* operator->() const noexcept { return &**this; }
    iterator& operator++() noexcept {
      if (++range_->batch_at_ == range_->batch_size_) range_->refill();
      return *this;
    }
    /// At the end the batch is empty (a refill found nothing more).
    bool operator==(std::default_sentinel_t) const noexcept { return range_->batch_at_ == range_->batch_size_; }

   private:
    friend class scan_range;
    explicit iterator(scan_range* range) noexcept : range_(range) {}
    scan_range* range_;
  };

  [[nodiscard]] iterator begin() noexcept;
  [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend class store;
  friend class snapshot;
  enum class bound_kind : std::uint8_t { none, prefix, end_key };
  // Enough entries to make the per-batch work small per entry; few enough that a short scan does not read
  // entries it will not show (the cursor already looks this far ahead).
  static constexpr std::uint32_t batch_capacity = 16;

  scan_range(cursor c, std::string start, std::string bound, bound_kind kind) noexcept;
  /// The entries of `c`'s tree whose key starts with `prefix`, or lies in [start, end).
  [[nodiscard]] static scan_range with_prefix(cursor c, bytes_view prefix) noexcept;
  [[nodiscard]] static scan_range in_range(cursor c, bytes_view start, bytes_view end) noexcept;
  /// Fills the batch with the next entries in bounds, advancing the cursor past them: an empty batch when
  /// none is left.
  void refill() noexcept;

  cursor cursor_;
  std::string start_;
  std::string bound_;
  bound_kind kind_;
  // A range scan's: how many leading bytes start and end share. Every key the cursor shows starts with them
  // (its scope), so the comparison with the end starts after them.
  std::uint32_t end_shared_ = 0;
  std::uint32_t batch_at_ = 0;
  std::uint32_t batch_size_ = 0;
  std::array<entry, batch_capacity> batch_{};
};

}  // namespace tessel
