// The bytes a kv entry occupies as a value of the store underneath (docs/format.md §KV entries): a 24-byte
// header -- version, created_at, updated_at (u64, little endian, nanoseconds since the Unix epoch) -- then
// the user's value.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"

namespace tessel::detail {

inline constexpr std::size_t kv_header_size = 24;

struct entry_header {
  std::uint64_t version = 0;
  std::uint64_t created_at_ns = 0;
  std::uint64_t updated_at_ns = 0;
};

/// A user's value fits beside the header in the store's value limit. Errors: invalid_argument naming the
/// size and the limit.
[[nodiscard]] result<void> check_value(std::string_view value) noexcept;

/// Replaces `out` with the stored form of an entry (its memory reused).
void encode_entry(std::string& out, const entry_header& h, std::string_view value);

/// The header of a stored entry. Errors: corruption naming `key` (a value too short to hold a header:
/// written through the byte API, not through kv).
[[nodiscard]] result<entry_header> decode_header(value_view stored, std::string_view key) noexcept;

/// The user's value inside a stored entry whose header decoded.
[[nodiscard]] inline std::string_view entry_value(value_view stored) noexcept {
  return as_string_view(stored).substr(kv_header_size);
}

}  // namespace tessel::detail
