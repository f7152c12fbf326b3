// The version store::published() returns: one pointer that readers on any thread load with no lock
// (store/reader_epochs.hpp), and that the writer replaces at each publish. A replaced version is retired
// with the epoch of its unlinking and dropped once no reader that could have loaded it is still pinned --
// at a later replace, or when the store goes.
//
// Thread safety: load() from any thread; replace() from the store's writer (several writers serialise on
// an internal mutex that readers never take).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "store/reader_epochs.hpp"
#include "store/snapshot_state.hpp"

namespace tessel::detail {

class published_version {
 public:
  published_version() = default;
  published_version(const published_version&) = delete;
  published_version& operator=(const published_version&) = delete;

  /// The current version, or null. Lock-free: a pin, a load and a reference-count increment.
  [[nodiscard]] std::shared_ptr<snapshot_state> load() const noexcept {
    const reader_epochs::pin pinned;
    snapshot_state* current = current_.load(std::memory_order_seq_cst);
    // Alive: owned by owner_ or, once replaced, by retired_ until this pin ends.
    return current != nullptr ? current->shared_from_this() : nullptr;
  }

  /// Makes `next` (may be null) the current version. Versions it retired and no reader can still reach
  /// are dropped after the mutex is released: a state's release takes its registry's mutex.
  void replace(std::shared_ptr<snapshot_state> next) noexcept {
    std::vector<std::shared_ptr<snapshot_state>> dropped;
    {
      std::lock_guard lock(mutex_);
      current_.store(next.get(), std::memory_order_seq_cst);
      if (owner_) {
        try {
          retired_.emplace_back(reader_epochs::advance(), std::move(owner_));
        } catch (...) {
          // No memory to keep it: wait for every reader to leave instead, then drop it here.
          const std::uint64_t unlinked = reader_epochs::advance();
          while (reader_epochs::oldest_pinned() <= unlinked) std::this_thread::yield();
          dropped.push_back(std::move(owner_));
        }
      }
      owner_ = std::move(next);
      const std::uint64_t oldest = reader_epochs::oldest_pinned();
      const auto unreachable =
          std::stable_partition(retired_.begin(), retired_.end(), [&](const auto& r) { return r.first >= oldest; });
      for (auto it = unreachable; it != retired_.end(); ++it) {
        try {
          dropped.push_back(std::move(it->second));
        } catch (...) {
          it->second.reset();  // under the mutex after all: correct, only slower
        }
      }
      retired_.erase(unreachable, retired_.end());
    }
  }

 private:
  mutable std::mutex mutex_;  // writers only
  std::atomic<snapshot_state*> current_{nullptr};
  std::shared_ptr<snapshot_state> owner_;                                           // keeps current_ alive
  std::vector<std::pair<std::uint64_t, std::shared_ptr<snapshot_state>>> retired_;  // (unlinked at, version)
};

}  // namespace tessel::detail
