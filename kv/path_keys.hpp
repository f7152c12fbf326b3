// Which keys a kv store accepts (docs/kv.md §Path keys) and what a watch pattern matches.
//
// Thread safety: pure functions and values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tessel/error.hpp"
#include "tessel/kv_store.hpp"

namespace tessel::detail {

/// Errors: invalid_argument naming the key and the rule it breaks.
[[nodiscard]] result<void> check_key(std::string_view key, key_rules rules) noexcept;

/// True for keys of tessel's own records, which kv lists and scans skip.
[[nodiscard]] bool is_reserved_key(std::string_view key) noexcept;

struct watch_pattern {
  enum class kind : std::uint8_t { everything, prefix, exact };
  kind what = kind::everything;
  std::string text;  // prefix: what a key starts with; exact: the key

  [[nodiscard]] bool matches(std::string_view key) const noexcept {
    switch (what) {
      case kind::everything: return !is_reserved_key(key);
      case kind::prefix: return key.starts_with(text);
      case kind::exact: return key == text;
    }
    return false;
  }
};

/// `*`, `prefix/*` or an exact key. Errors: invalid_argument naming the pattern's problem.
[[nodiscard]] result<watch_pattern> parse_pattern(std::string_view pattern, key_rules rules) noexcept;

}  // namespace tessel::detail
