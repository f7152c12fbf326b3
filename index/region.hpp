// The Region concept: where the tree's blocks live. The tree is a template on it, so a node hop costs one
// add of a base address and no virtual call.
//
// A region hands out 8-byte-aligned blocks by offset (never 0, which stays reserved so a zero reference can
// mean "empty"), takes them back, and translates an offset to an address. Its base address is stable for the
// region's lifetime: regions reserve their whole virtual range up front and grow inside it.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "tessel/error.hpp"

namespace tessel::index {

/// What a region's blocks cost, in bytes.
struct region_usage {
  std::size_t live_bytes = 0;       ///< in blocks handed out and not yet returned
  std::size_t free_bytes = 0;       ///< in returned blocks kept for reuse
  std::size_t committed_bytes = 0;  ///< touched so far: live + free + the never-used tail of the last chunk
};

template <class R>
concept region = requires(R& r, const R& cr, std::uint64_t offset, std::size_t size) {
  /// A block of at least `size` bytes; 0 when none can be had (then last_error() says why).
  { r.allocate(size) } -> std::same_as<std::uint64_t>;
  /// Returns a block; `size` is the size it was allocated with.
  { r.deallocate(offset, size) } -> std::same_as<void>;
  { cr.base() } -> std::same_as<std::byte*>;
  { cr.usage() } -> std::same_as<region_usage>;
  { cr.last_error() } -> std::same_as<error>;
};

/// Optional: a region that can place blocks made one after another in ascending address order -- at the
/// end of the space it has handed out (allocate_at_frontier), or, after order_free_blocks(), from its freed
/// blocks lowest first (allocate).
template <class R>
concept placing_region = requires(R& r, std::size_t size) {
  { r.allocate_at_frontier(size) } -> std::same_as<std::uint64_t>;
  { r.order_free_blocks() } -> std::same_as<void>;
};

}  // namespace tessel::index
