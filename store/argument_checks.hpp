// What store and snapshot reads share: the size checks on keys and values, and copying a value out.
// Messages are built only on the error path, so a valid call allocates nothing here.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"
#include "tessel/limits.hpp"

namespace tessel::detail {

[[nodiscard]] inline tl::unexpected<error> oversize(const char* what, std::size_t size, std::size_t limit) {
  return make_error(errc::invalid_argument, std::string(what) + " of " + std::to_string(size) +
                                                " bytes exceeds the limit of " + std::to_string(limit) + " bytes");
}

[[nodiscard]] inline result<void> check_key(key_view key) noexcept {
  if (key.size() > max_key_size) return oversize("key", key.size(), max_key_size);
  return {};
}

[[nodiscard]] inline result<void> check_entry(key_view key, value_view value) noexcept {
  if (key.size() > max_key_size) return oversize("key", key.size(), max_key_size);
  if (value.size() > max_value_size) return oversize("value", value.size(), max_value_size);
  return {};
}

/// The value `v` holds, copied; its error otherwise. Errors: also no_memory.
[[nodiscard]] inline result<std::string> copy_value(result<value_view> v) noexcept {
  if (!v) return tl::unexpected(std::move(v.error()));
  try {
    return to_string(*v);
  } catch (...) {
    return make_error(errc::no_memory, "copying a value of " + std::to_string(v->size()) + " bytes");
  }
}

}  // namespace tessel::detail
