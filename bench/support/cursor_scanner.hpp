// cursor_scanner: an endless forward scan over any cursor with the tessel cursor shape (valid, key, value,
// next, seek_to_first), one entry per step, wrapping to the first key at the end. Shared by the tree and
// store micro-benchmarks.
#pragma once

#include <cstdint>
#include <utility>

#include "bench/support/sink.hpp"

namespace tessel::bench {

template <class Cursor>
class cursor_scanner {
 public:
  explicit cursor_scanner(Cursor c) noexcept : cursor_(std::move(c)) { cursor_.seek_to_first(); }

  /// Touches the current entry's key and value and moves on; returns what it read, for a sink.
  std::uint64_t step() noexcept {
    if (!cursor_.valid()) [[unlikely]]
      cursor_.seek_to_first();
    const std::uint64_t sum =
        touch(cursor_.key().data(), cursor_.key().size()) + touch(cursor_.value().data(), cursor_.value().size());
    cursor_.next();
    return sum;
  }

 private:
  Cursor cursor_;
};

}  // namespace tessel::bench
