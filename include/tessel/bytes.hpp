// Byte views used for keys and values.
//
// Thread safety: views; the bytes they name belong to someone else, whose rules apply.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace tessel {

/// A borrowed run of bytes. Keys and values are arbitrary bytes, 0x00 included; order is lexicographic by
/// unsigned byte. A view never owns: the caller keeps the bytes alive for as long as the view is used.
using bytes_view = std::span<const std::byte>;
using key_view = bytes_view;
using value_view = bytes_view;

/// Views the bytes of a string without copying.
[[nodiscard]] inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// Views bytes as characters without copying.
[[nodiscard]] inline std::string_view as_string_view(bytes_view b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Copies bytes into an owning string.
[[nodiscard]] inline std::string to_string(bytes_view b) { return std::string(as_string_view(b)); }

/// Three-way lexicographic comparison by unsigned byte; a proper prefix sorts first.
[[nodiscard]] inline int compare(bytes_view a, bytes_view b) noexcept {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  if (n != 0) {
    if (const int c = std::memcmp(a.data(), b.data(), n); c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

[[nodiscard]] inline bool starts_with(bytes_view s, bytes_view prefix) noexcept {
  return s.size() >= prefix.size() && (prefix.empty() || std::memcmp(s.data(), prefix.data(), prefix.size()) == 0);
}

/// How many leading bytes `a` and `b` have in common. Every key in [a, b) begins with them.
[[nodiscard]] inline std::size_t shared_prefix_size(bytes_view a, bytes_view b) noexcept {
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  std::size_t i = 0;
  // Eight bytes at a time: the first differing bit of the two words names the first differing byte.
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      const std::uint64_t diff = x ^ y;
      const int bit = std::endian::native == std::endian::little ? std::countr_zero(diff) : std::countl_zero(diff);
      return i + static_cast<std::size_t>(bit) / 8;
    }
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

[[nodiscard]] inline bool equal(bytes_view a, bytes_view b) noexcept {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace tessel
