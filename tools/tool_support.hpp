// What the store subcommands (info, check, dump, load, recover) share: turning an error into the documented
// exit code and a message on stderr, and telling which backend a store directory holds.
//
// Thread safety: stateless.
#pragma once

#include <array>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "tessel/error.hpp"
#include "tessel/options.hpp"

#include "store/pool_open.hpp"

namespace tessel::tools {

/// A store's (or a sharded store's) 16-byte id as 32 lowercase hex digits, as info prints it.
[[nodiscard]] inline std::string hex_id(const std::array<std::uint8_t, 16>& id) {
  std::ostringstream out;
  for (const std::uint8_t b : id) out << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(b);
  return out.str();
}

/// Prints "tessel <command>: <errc>: <message>" and returns the exit code (docs/tools.md): the errc value,
/// except not_found -- exit 1 means a usage error -- which exits 2 (invalid_argument: the path names no store).
inline int fail(std::string_view command, const error& e) {
  std::cerr << "tessel " << command << ": " << e.to_string() << '\n';
  const int code = static_cast<int>(e.code());
  return code >= 2 ? code : static_cast<int>(errc::invalid_argument);
}

/// The backend of the store in `dir`: pmem when it holds a pool, else mmap (also when it holds nothing yet).
inline backend backend_of(const std::string& dir) {
  return detail::pool_store_exists(dir) ? backend::pmem : backend::mmap;
}

}  // namespace tessel::tools
