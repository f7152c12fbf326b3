#include "store/dump_format.hpp"

namespace tessel {

namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

void append_escaped(std::string& out, bytes_view bytes) {
  for (const std::byte b : bytes) {
    const auto c = static_cast<unsigned char>(b);
    if (c >= 0x20 && c <= 0x7E && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex_digits[c >> 4]);
      out.push_back(hex_digits[c & 0xF]);
    }
  }
}

[[nodiscard]] int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/// Unescapes `field`, which starts at `column` of its line (for messages).
[[nodiscard]] result<std::string> unescape(std::string_view field, std::size_t column) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    const char c = field[i];
    if (c != '%') {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u > 0x7E) {
        return make_error(errc::invalid_argument,
                          "unescaped byte " + std::to_string(u) + " at column " + std::to_string(column + i + 1));
      }
      out.push_back(c);
      continue;
    }
    const int hi = i + 1 < field.size() ? hex_value(field[i + 1]) : -1;
    const int lo = i + 2 < field.size() ? hex_value(field[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return make_error(errc::invalid_argument, "bad %-escape at column " + std::to_string(column + i + 1));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

void append_dump_line(std::string& out, bytes_view key, bytes_view value) {
  append_escaped(out, key);
  out.push_back('\t');
  append_escaped(out, value);
  out.push_back('\n');
}

result<dump_entry> parse_dump_line(std::string_view line) {
  const std::size_t tab = line.find('\t');
  if (tab == std::string_view::npos) return make_error(errc::invalid_argument, "no tab between key and value");
  if (line.find('\t', tab + 1) != std::string_view::npos) {
    return make_error(errc::invalid_argument, "more than one tab (tabs inside fields are escaped as %09)");
  }
  auto key = unescape(line.substr(0, tab), 0);
  if (!key) return tl::unexpected(std::move(key.error()));
  auto value = unescape(line.substr(tab + 1), tab + 1);
  if (!value) return tl::unexpected(std::move(value.error()));
  return dump_entry{std::move(*key), std::move(*value)};
}

}  // namespace tessel
