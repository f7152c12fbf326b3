// `tessel info` for a pmem store: the root object (format, id, the last commit), the pool's size and how it
// persists (flushes on persistent memory, msync otherwise), and the log area. docs/tools.md §info.
//
// Thread safety: one call at a time (prints to stdout).
#pragma once

#include <ostream>
#include <string>

namespace tessel::tools {

/// Prints the facts of the pool store in `dir`; returns the exit code.
int pool_info(const std::string& dir, bool json, std::ostream& out);

}  // namespace tessel::tools
