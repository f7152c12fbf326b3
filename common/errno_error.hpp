// The one place that turns an errno value into a tessel error.
#pragma once

#include <string_view>

#include "tessel/error.hpp"

namespace tessel {

/// ENOENT -> not_found, ENOSPC/EDQUOT -> no_space, ENOMEM -> no_memory, EAGAIN/EWOULDBLOCK/EBUSY -> busy,
/// EINVAL -> invalid_argument, anything else -> io_error. The message is "<context>: <strerror>".
[[nodiscard]] error errno_error(int err, std::string_view context);

}  // namespace tessel
