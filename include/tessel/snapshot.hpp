// tessel::snapshot: an immutable version of a store, taken in O(1) (store::snapshot()), readable from any
// thread while the store takes writes, and restorable (store::restore()).
//
// A snapshot is the store's tree frozen by the epoch rule (docs/design.md §Epochs): writes copy a block a
// snapshot can reach before changing it, and a block leaves memory only once no live snapshot reaches it --
// a snapshot pins exactly the blocks of its version, not everything written after it. Copies of a handle
// share one snapshot; it is released when the last handle goes (or release() is called on each).
//
// Lifetime: a snapshot must not outlive its store; views, cursors and scans taken from it stay valid while
// it is held. Thread safety: every const method may be called from any number of threads at once, while
// the store's writer works.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tessel/bytes.hpp"
#include "tessel/cursor.hpp"
#include "tessel/error.hpp"

namespace tessel {

namespace detail {
struct snapshot_state;
}  // namespace detail

/// A named snapshot (store::create_named_snapshot): a committed version a durable store keeps under a name
/// across close and restart until it is dropped.
struct named_snapshot_info {
  std::string name;
  std::uint64_t epoch = 0;   ///< the epoch its version was committed in
  std::uint64_t at_seq = 0;  ///< every write with seq <= at_seq is in it, none after
  std::size_t len = 0;       ///< entries
  std::size_t leaf_bytes = 0;
  std::uint64_t created_unix_ns = 0;
};

class snapshot {
 public:
  /// An empty handle: valid() is false; reads find nothing.
  snapshot() noexcept = default;

  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

  /// The value of `key` in this version. Errors: not_found, invalid_argument (key over max_key_size).
  [[nodiscard]] result<value_view> get(key_view key) const noexcept;
  [[nodiscard]] result<std::string> get_string(std::string_view key) const noexcept;
  [[nodiscard]] bool contains(key_view key) const noexcept;

  /// A cursor over this version, not yet positioned.
  [[nodiscard]] cursor new_cursor() const noexcept;
  [[nodiscard]] scan_range prefix_scan(key_view prefix) const noexcept;
  [[nodiscard]] scan_range range_scan(key_view start, key_view end) const noexcept;

  /// Entries in this version. O(1).
  [[nodiscard]] std::size_t len() const noexcept;
  [[nodiscard]] bool is_empty() const noexcept { return len() == 0; }
  /// Bytes of the leaves of this version (keys, values, headers). O(1).
  [[nodiscard]] std::size_t leaf_bytes() const noexcept;
  /// Bytes of every block this version reaches (leaves and inner nodes): what it would take to copy it.
  /// Walks the version once, then remembers the answer.
  [[nodiscard]] std::size_t size_bytes() const noexcept;
  /// The epoch this version was frozen in; later snapshots of the same store have larger ones.
  [[nodiscard]] std::uint64_t epoch() const noexcept;
  /// The seq of the last write in this version: every write of a durable store with seq <= at_seq is in it
  /// and none after (its operation log holds the later ones). 0 for a dram store.
  [[nodiscard]] std::uint64_t at_seq() const noexcept;

  /// Drops this handle's hold; the version's blocks are freed by a later write once no handle holds it.
  void release() noexcept { state_.reset(); }

 private:
  friend class store;
  explicit snapshot(std::shared_ptr<detail::snapshot_state> state) noexcept : state_(std::move(state)) {}
  std::shared_ptr<detail::snapshot_state> state_;
};

}  // namespace tessel
