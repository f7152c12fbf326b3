#include "common/checksum.hpp"

#include <xxhash.h>

namespace tessel {

std::uint64_t checksum64(std::span<const std::byte> bytes) noexcept { return XXH3_64bits(bytes.data(), bytes.size()); }

}  // namespace tessel
