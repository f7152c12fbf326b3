#include "kv/path_keys.hpp"

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
    if (key.find('\0') != std::string_view::npos) return bad_key(key, "a path key holds no NUL byte");
    // Segments between the slashes: none empty ("//", a trailing '/'), none "." or "..", none too long.
    std::size_t start = 1;
    while (true) {
      const std::size_t end = std::min(key.find('/', start), key.size());
      const std::string_view segment = key.substr(start, end - start);
      if (segment.empty()) return bad_key(key, "an empty path segment (\"//\" or a trailing '/')");
      if (segment == "." || segment == "..") return bad_key(key, "a \".\" or \"..\" path segment");
      if (segment.size() > max_kv_segment_size) {
        return bad_key(key, "a path segment of " + std::to_string(segment.size()) + " bytes, over the limit of " +
                                std::to_string(max_kv_segment_size));
      }
      if (end == key.size()) return {};
      start = end + 1;
    }
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
