// snapshot_registry: the epochs of a store's live snapshots, so the writer's reclaim keeps every block a
// snapshot can reach (index/art.hpp: a retired block is freed once no live frozen epoch lies in its
// [birth, death)). A snapshot adds its epoch when taken and removes it when its last handle goes, from any
// thread; the writer reads the set when it reclaims, and learns from `released()` that a reclaim may now
// free something.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace tessel::detail {

class snapshot_registry {
 public:
  /// Errors: none; out of memory throws std::bad_alloc (callers catch it).
  void add(std::uint64_t epoch) {
    std::lock_guard lock(mutex_);
    epochs_.push_back(epoch);
    count_.store(epochs_.size(), std::memory_order_relaxed);
  }
  void remove(std::uint64_t epoch) noexcept {
    std::lock_guard lock(mutex_);
    for (auto it = epochs_.begin(); it != epochs_.end(); ++it) {
      if (*it == epoch) {
        *it = epochs_.back();
        epochs_.pop_back();
        break;
      }
    }
    count_.store(epochs_.size(), std::memory_order_relaxed);
    released_.store(true, std::memory_order_release);
  }
  /// The live epochs, with `extra` (the durable commit's, for a durable store) appended.
  [[nodiscard]] std::vector<std::uint64_t> live_epochs(const std::vector<std::uint64_t>& extra) const {
    std::lock_guard lock(mutex_);
    std::vector<std::uint64_t> out(epochs_);
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
  }
  [[nodiscard]] std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  /// True (once) when a snapshot was released since the last call.
  [[nodiscard]] bool take_released() noexcept {
    // A plain load first: the writer asks after every write, and releases are rare.
    return released_.load(std::memory_order_relaxed) && released_.exchange(false, std::memory_order_acquire);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> epochs_;  // a multiset: one entry per snapshot; few, so a vector
  std::atomic<std::size_t> count_{0};
  std::atomic<bool> released_{false};
};

}  // namespace tessel::detail
