// What a tessel::snapshot holds: the frozen root of its version, the tree it was frozen from, and its entry
// in the store's snapshot registry, removed when the last handle goes.
//
// Thread safety: immutable after construction but for the size_bytes cache (an atomic); readable from any
// thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tessel/error.hpp"

#include "index/art.hpp"
#include "store/snapshot_registry.hpp"
#include "store/tree_region.hpp"

namespace tessel::detail {

struct snapshot_state : std::enable_shared_from_this<snapshot_state> {  // published_version's lock-free load
  snapshot_state() noexcept = default;
  snapshot_state(const snapshot_state&) = delete;
  snapshot_state& operator=(const snapshot_state&) = delete;
  ~snapshot_state() {
    if (registry) registry->remove(root.epoch);
  }

  const index::art<tree_region>* tree = nullptr;
  index::frozen_root root;
  std::size_t leaf_bytes = 0;
  /// A durable store's last durable epoch when the snapshot was taken: its blocks born later may never
  /// have been sealed by a commit.
  std::uint64_t durable_epoch = 0;
  std::uint64_t at_seq = 0;                     ///< the store's last write seq when taken
  std::shared_ptr<snapshot_registry> registry;  ///< set once the epoch is registered
  static constexpr std::size_t unknown = SIZE_MAX;
  mutable std::atomic<std::size_t> size_bytes{unknown};
};

/// A new state whose epoch `epoch` is registered in `registry` (made when null); the caller fills in the
/// rest before it freezes anything. Errors: no_memory, with nothing registered.
[[nodiscard]] inline result<std::shared_ptr<snapshot_state>> register_snapshot_state(
    std::shared_ptr<snapshot_registry>& registry, std::uint64_t epoch) noexcept {
  try {
    if (!registry) registry = std::make_shared<snapshot_registry>();
    auto state = std::make_shared<snapshot_state>();
    registry->add(epoch);
    state->registry = registry;
    return state;
  } catch (...) {
    return make_error(errc::no_memory, "registering a snapshot");
  }
}

}  // namespace tessel::detail
