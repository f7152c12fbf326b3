// JSON values in a kv_store (univrs-state's set_json / get_json), through nlohmann::json: any type with
// to_json / from_json, or nlohmann::json itself. Include only where JSON is wanted: it pulls in
// nlohmann/json.hpp.
//
// Thread safety: as kv_store.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tessel/kv_codec.hpp"

namespace tessel {

/// kv_codec for any T nlohmann::json converts: compact JSON text; text that does not parse, or does not
/// convert to T, is invalid_argument naming the parser's complaint.
template <class T>
struct json_codec {
  static std::string encode(const T& value) { return nlohmann::json(value).dump(); }
  static result<T> decode(std::string_view text) noexcept {
    try {
      return nlohmann::json::parse(text).template get<T>();
    } catch (const nlohmann::json::exception& e) {
      return make_error(errc::invalid_argument, std::string("not JSON of the asked type: ") + e.what());
    } catch (...) {
      return make_error(errc::no_memory, "decoding JSON");
    }
  }
};

template <class T = nlohmann::json>
[[nodiscard]] result<std::uint64_t> set_json(kv_store& kv, std::string_view key, const T& value) noexcept {
  return set_as<json_codec<T>>(kv, key, value);
}

template <class T = nlohmann::json>
[[nodiscard]] result<typed_entry<T>> get_json(const kv_store& kv, std::string_view key) noexcept {
  return get_as<T, json_codec<T>>(kv, key);
}

}  // namespace tessel
