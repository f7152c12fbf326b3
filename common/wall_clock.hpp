// Wall-clock timestamps for what formats record (a store's creation, a commit): nanoseconds since the Unix
// epoch. Not for measuring durations -- that is steady_clock's or the cycle counter's job.
//
// Thread safety: stateless.
#pragma once

#include <chrono>
#include <cstdint>

namespace tessel {

[[nodiscard]] inline std::uint64_t unix_time_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace tessel
