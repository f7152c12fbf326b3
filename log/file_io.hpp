// The operation log's file plumbing: common/file_io.hpp (descriptors, whole-buffer I/O, directory fsync),
// and the fault-injection hook tests use to make the log's I/O fail on purpose.
//
// Thread safety: the hook may be called from the syncing and the reserving thread at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string_view>

#include "tessel/error.hpp"

#include "common/file_io.hpp"

namespace tessel::oplog {

/// Where a fault hook may inject an error (log_options::inject_fault).
enum class fault_point : std::uint8_t {
  create_file = 1,  ///< opening a new segment file
  preallocate = 2,  ///< posix_fallocate of a new segment
  write = 3,        ///< writing records into a segment
  sync = 4,         ///< fdatasync of a segment
};

/// Tests only: called before each I/O step; a nonzero return is taken as that errno, as if the system
/// call had failed. May be called from the syncing thread and the reserving thread at once.
using fault_hook = std::function<int(fault_point)>;

/// Returns the errno to inject at `point`, or 0.
[[nodiscard]] inline int injected_fault(const fault_hook& hook, fault_point point) noexcept {
  return hook ? hook(point) : 0;
}

/// The log's name for file_errno_error (EFBIG is no_space too).
[[nodiscard]] inline error log_errno_error(int err, std::string_view context) { return file_errno_error(err, context); }

}  // namespace tessel::oplog
