#include "pmem/pool_format.hpp"

#include <span>

#include "common/checksum.hpp"

namespace tessel::pmem {

std::uint64_t root_checksum(const pool_root& r) noexcept {
  const auto* bytes = reinterpret_cast<const std::byte*>(&r);
  return checksum64(std::span<const std::byte>(bytes, offsetof(pool_root, checksum)));
}

result<void> check_root(const pool_root& r, const std::string& what) noexcept {
  if (r.magic != pool_magic) return make_error(errc::corruption, what + " is not a tessel pool (bad magic)");
  if (r.checksum != root_checksum(r))
    return make_error(errc::corruption, what + ": the root object fails its checksum");
  if (r.format_version > pool_format_version) {
    return make_error(errc::version_mismatch, what + " has pool format version " + std::to_string(r.format_version) +
                                                  "; this build reads up to " + std::to_string(pool_format_version));
  }
  if ((r.incompat_features & ~known_pool_features) != 0) {
    return make_error(errc::version_mismatch,
                      what + " uses unknown incompatible features " + std::to_string(r.incompat_features));
  }
  return {};
}

}  // namespace tessel::pmem
