// What the store subcommands (info, check, dump, load) share: turning an error into the documented exit code
// and a message on stderr.
//
// Thread safety: stateless.
#pragma once

#include <iostream>
#include <string_view>

#include "tessel/error.hpp"

namespace tessel::tools {

/// Prints "tessel <command>: <errc>: <message>" and returns the exit code (docs/tools.md): the errc value,
/// except not_found -- exit 1 means a usage error -- which exits 2 (invalid_argument: the path names no store).
inline int fail(std::string_view command, const error& e) {
  std::cerr << "tessel " << command << ": " << e.to_string() << '\n';
  const int code = static_cast<int>(e.code());
  return code >= 2 ? code : static_cast<int>(errc::invalid_argument);
}

}  // namespace tessel::tools
