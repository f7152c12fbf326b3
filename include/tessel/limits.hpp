// Hard limits on what a store accepts. Calls past them fail with errc::invalid_argument.
#pragma once

#include <cstddef>

namespace tessel {

/// Longest key, in bytes. A key's length lives in 16 bits of a tree reference (docs/format.md).
inline constexpr std::size_t max_key_size = 16 * 1024;

/// Longest value, in bytes. A value lives inline in its leaf, which is one region block.
inline constexpr std::size_t max_value_size = 64 * 1024 * 1024;

/// Keys that start with these bytes belong to tessel's own records (the state graph, docs/format.md);
/// applications should not write under them.
inline constexpr char reserved_key_prefix[] = "\xFF\xFFtessel/";

}  // namespace tessel
