// Epoch-based reclamation for published versions (store/published_version.hpp): readers announce the
// epoch they entered in, with no lock; a writer that unlinks an object retires it with the epoch it
// advanced from, and frees it once every announcement is newer -- no reader that could have seen it is
// still inside.
//
// Each thread announces in a record of its own, taken on its first pin and handed back when it exits; the
// records are one process-wide list that only grows (to the most threads alive at once), so a pin is two
// stores to the thread's own cache line and a load of the epoch.
//
// Thread safety: every function from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace tessel::detail {

class reader_epochs {
 public:
  /// A pinned section of the calling thread: objects retired after it began stay alive until it ends.
  /// Nests (the outermost pin announces).
  class pin {
   public:
    pin() noexcept;
    ~pin();
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
  };

  /// Moves the epoch on; returns the epoch it moved from, the one to retire an object just unlinked with.
  static std::uint64_t advance() noexcept;
  /// The oldest epoch a pinned thread announced; UINT64_MAX when none is pinned. An object retired with
  /// epoch e may be freed once this is > e.
  static std::uint64_t oldest_pinned() noexcept;
};

}  // namespace tessel::detail
