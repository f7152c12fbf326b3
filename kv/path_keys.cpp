#include "kv/path_keys.hpp"

#include <algorithm>
#include <cstring>

#include <emmintrin.h>

#include "tessel/limits.hpp"

namespace tessel::detail {

namespace {

/// Keys in messages: printable bytes as they are, others as \xHH, shortened when long.
std::string quoted(std::string_view key) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : key.substr(0, 80)) {
    const auto b = static_cast<unsigned char>(ch);
    if (b >= 0x20 && b < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  }
  if (key.size() > 80) out += "...";
  out += '"';
  return out;
}

result<void> bad_key(std::string_view key, std::string_view rule) {
  return make_error(errc::invalid_argument, "invalid key " + quoted(key) + ": " + std::string(rule));
}

/// A screen for the common case, 16 bytes at a time and without a branch per byte (the byte loop below
/// mispredicts at every '/', which cost more than the lookup's own work on a short key): true when `key`
/// (which starts with '/') certainly breaks no path rule. A key it is unsure of -- a segment starting with
/// '.', a key over 256 bytes (only those can hold a segment over 255) -- or finds wrong goes to the exact
/// check, which names the problem.
bool plainly_valid(std::string_view key) noexcept {
  const std::size_t n = key.size();
  if (n > max_kv_segment_size + 1 || key.back() == '/') return false;
  const __m128i slash = _mm_set1_epi8('/');
  const __m128i dot = _mm_set1_epi8('.');
  const __m128i nul = _mm_setzero_si128();
  const auto load = [](const char* p) {
    return _mm_loadu_si128(static_cast<const __m128i*>(static_cast<const void*>(p)));
  };
  const auto mask = [](__m128i v, __m128i c) { return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, c))); };
  // The bytes of `v` that `valid` marks break a rule: a NUL, or a '/' or '.' right after a '/' (the byte
  // before position 0 is a '/' when `carry` is 1).
  const auto breaks_rule = [&](__m128i v, unsigned valid, unsigned carry) {
    const unsigned slashes = mask(v, slash);
    const unsigned follows_slash = ((slashes << 1) | carry) & valid;
    return ((mask(v, nul) & valid) | (slashes & follows_slash) | (mask(v, dot) & follows_slash)) != 0;
  };
  unsigned after_slash = 0;  // the last byte of the previous chunk was '/'
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i v = load(key.data() + i);
    if (breaks_rule(v, 0xFFFFU, after_slash)) return false;
    after_slash = (mask(v, slash) >> 15) & 1U;
  }
  if (i == n) return true;
  if (n >= 16) {
    // The rest in one load that ends with the key: its first bytes were checked already and serve as the
    // new bytes' predecessors (a copy of a short tail cost a call to memcpy on every key).
    const unsigned fresh = static_cast<unsigned>(n - i);
    return !breaks_rule(load(key.data() + n - 16), 0xFFFFU & ~((1U << (16 - fresh)) - 1), 0);
  }
  alignas(16) char tail[16] = {};  // never read past the key: copy a short one
  std::memcpy(tail, key.data(), n);
  return !breaks_rule(load(tail), (1U << n) - 1, 0);
}

}  // namespace

bool is_reserved_key(std::string_view key) noexcept { return key.starts_with(reserved_key_prefix); }

result<void> check_key(std::string_view key, key_rules rules) noexcept {
  try {
    if (key.empty()) return bad_key(key, "empty");
    if (key.size() > max_kv_key_size) {
      return bad_key(key, std::to_string(key.size()) + " bytes, over the limit of " + std::to_string(max_kv_key_size));
    }
    if (rules == key_rules::bytes) {
      if (is_reserved_key(key)) return bad_key(key, "under tessel's reserved prefix \\xFF\\xFFtessel/");
      return {};
    }
    if (key.front() != '/') return bad_key(key, "a path key starts with '/'");
    if (plainly_valid(key)) return {};
    // The exact check, one pass: each segment ends at a '/' or the
    // key's end; none empty ("//", a trailing '/'), none "." or "..", none too long, no NUL byte.
    std::size_t start = 1;
    for (std::size_t i = 1; i <= key.size(); ++i) {
      const char c = i < key.size() ? key[i] : '/';
      if (c == '\0') return bad_key(key, "a path key holds no NUL byte");
      if (c != '/') continue;
      const std::size_t length = i - start;
      if (length == 0) return bad_key(key, "an empty path segment (\"//\" or a trailing '/')");
      if (length <= 2 && key[start] == '.' && (length == 1 || key[start + 1] == '.')) {
        return bad_key(key, "a \".\" or \"..\" path segment");
      }
      if (length > max_kv_segment_size) {
        return bad_key(key, "a path segment of " + std::to_string(length) + " bytes, over the limit of " +
                                std::to_string(max_kv_segment_size));
      }
      start = i + 1;
    }
    return {};
  } catch (...) {
    return make_error(errc::no_memory, "checking a key");
  }
}

result<watch_pattern> parse_pattern(std::string_view pattern, key_rules rules) noexcept {
  try {
    watch_pattern p;
    if (pattern == "*") return p;
    if (rules == key_rules::paths) {
      if (pattern == "/*") {
        p.what = watch_pattern::kind::prefix;
        p.text = "/";
        return p;
      }
      const std::size_t star = pattern.find('*');
      if (star != std::string_view::npos) {
        if (star + 1 != pattern.size() || !pattern.ends_with("/*")) {
          return make_error(errc::invalid_argument, "invalid watch pattern " + quoted(pattern) +
                                                        ": '*' stands only as the whole last segment (\"/a/*\")");
        }
        const std::string_view parent = pattern.substr(0, pattern.size() - 2);
        if (auto ok = check_key(parent, rules); !ok) {
          return make_error(errc::invalid_argument,
                            "invalid watch pattern " + quoted(pattern) + ": " + std::string(ok.error().message()));
        }
        p.what = watch_pattern::kind::prefix;
        p.text = std::string(pattern.substr(0, pattern.size() - 1));  // keeps the '/': "/a/" never matches "/ab"
        return p;
      }
    } else if (pattern.ends_with('*')) {
      p.what = watch_pattern::kind::prefix;
      p.text = std::string(pattern.substr(0, pattern.size() - 1));
      return p;
    }
    if (auto ok = check_key(pattern, rules); !ok) {
      return make_error(errc::invalid_argument,
                        "invalid watch pattern " + quoted(pattern) + ": " + std::string(ok.error().message()));
    }
    p.what = watch_pattern::kind::exact;
    p.text = std::string(pattern);
    return p;
  } catch (...) {
    return make_error(errc::no_memory, "parsing a watch pattern");
  }
}

}  // namespace tessel::detail
