// What a benchmarked read returns to its harness: a found value's bytes, or a scan's key count and a checksum
// of what it read (which the harness sinks, so the reads cannot be optimized away).
//
// Thread safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessel::bench {

struct lookup {
  const std::byte* data = nullptr;
  std::size_t size = 0;
  bool found = false;
};

struct scan_outcome {
  std::size_t count = 0;
  std::uint64_t checksum = 0;
};

}  // namespace tessel::bench
