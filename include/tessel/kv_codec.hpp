// Typed access to a kv_store: a codec concept for user types, and JSON through nlohmann::json
// (include/tessel/kv_json.hpp). Free functions, so kv_store itself depends on no serialisation library.
//
// Thread safety: as kv_store.
#pragma once

#include <concepts>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "tessel/error.hpp"
#include "tessel/kv_store.hpp"

namespace tessel {

/// How a `T` becomes a value and back: encode never fails; decode reports bytes that are not a `T` as an
/// error (invalid_argument or corruption, naming the problem).
template <class Codec, class T>
concept kv_codec = requires(const T& value, std::string_view bytes) {
  { Codec::encode(value) } -> std::convertible_to<std::string>;
  { Codec::decode(bytes) } -> std::same_as<result<T>>;
};

/// A value read through a codec, with its entry's version and times.
template <class T>
struct typed_entry {
  T value;
  std::uint64_t version = 0;
  std::uint64_t created_at_ns = 0;
  std::uint64_t updated_at_ns = 0;
};

template <class Codec, class T>
  requires kv_codec<Codec, T>
[[nodiscard]] result<std::uint64_t> set_as(kv_store& kv, std::string_view key, const T& value) noexcept {
  try {
    return kv.set(key, Codec::encode(value));
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "encoding a value");
  } catch (...) {
    return make_error(errc::invalid_argument, "the codec could not encode the value");
  }
}

template <class Codec, class T>
  requires kv_codec<Codec, T>
[[nodiscard]] result<std::uint64_t> compare_and_set_as(kv_store& kv, std::string_view key, std::uint64_t expected,
                                                       const T& value) noexcept {
  try {
    return kv.compare_and_set(key, expected, Codec::encode(value));
  } catch (const std::bad_alloc&) {
    return make_error(errc::no_memory, "encoding a value");
  } catch (...) {
    return make_error(errc::invalid_argument, "the codec could not encode the value");
  }
}

/// Errors: those of get; the codec's decode error, prefixed with the key.
template <class T, class Codec>
  requires kv_codec<Codec, T>
[[nodiscard]] result<typed_entry<T>> get_as(const kv_store& kv, std::string_view key) noexcept {
  auto e = kv.get(key);
  if (!e) return tl::unexpected(std::move(e.error()));
  auto v = Codec::decode(e->value);
  if (!v) {
    return make_error(v.error().code(), "the value of " + std::string(key) + ": " + std::string(v.error().message()));
  }
  return typed_entry<T>{std::move(*v), e->version, e->created_at_ns, e->updated_at_ns};
}

}  // namespace tessel
