#include "kv/entry_codec.hpp"

#include "tessel/limits.hpp"

#include "common/le_codec.hpp"

namespace tessel::detail {

result<void> check_value(std::string_view value) noexcept {
  if (value.size() <= max_value_size - kv_header_size) return {};
  return make_error(errc::invalid_argument, "a value of " + std::to_string(value.size()) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(max_value_size - kv_header_size));
}

void encode_entry(std::string& out, const entry_header& h, std::string_view value) {
  out.clear();
  out.reserve(kv_header_size + value.size());
  append_le<std::uint64_t>(out, h.version);
  append_le<std::uint64_t>(out, h.created_at_ns);
  append_le<std::uint64_t>(out, h.updated_at_ns);
  out.append(value);
}

result<entry_header> decode_header(value_view stored, std::string_view key) noexcept {
  if (stored.size() < kv_header_size) {
    return make_error(errc::corruption, "the value of " + std::string(key) + " holds " + std::to_string(stored.size()) +
                                            " bytes, less than a kv entry header (written around the kv layer?)");
  }
  entry_header h;
  h.version = load_le<std::uint64_t>(stored.data());
  h.created_at_ns = load_le<std::uint64_t>(stored.data() + 8);
  h.updated_at_ns = load_le<std::uint64_t>(stored.data() + 16);
  if (h.version == 0) {
    return make_error(errc::corruption, "the kv entry of " + std::string(key) + " has version 0");
  }
  return h;
}

}  // namespace tessel::detail
