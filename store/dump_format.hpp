// The dump line format of `tessel dump` and `tessel load` (docs/tools.md §dump): a header line
// "tessel-dump 1", then one line per entry in key order, "<key>\t<value>\n", each field percent-escaped:
// bytes 0x20..0x7E other than '%' stand for themselves, every other byte is "%XX" (two upper-case hex
// digits). Binary-safe, one entry per line, greppable, and a round trip is exact.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"

namespace tessel {

inline constexpr std::string_view dump_header = "tessel-dump 1";

/// Appends "<key>\t<value>\n" to `out`.
void append_dump_line(std::string& out, bytes_view key, bytes_view value);

struct dump_entry {
  std::string key;
  std::string value;
};

/// Parses one line (without its '\n'). Errors: invalid_argument naming the column of a bad escape, a
/// missing tab or a stray one.
[[nodiscard]] result<dump_entry> parse_dump_line(std::string_view line);

}  // namespace tessel
