// The record codec (log/record.hpp). Hot path: encode_record runs under the store's writer mutex for every
// write, so it only copies and hashes.
#include "log/record.hpp"

#include <cstring>
#include <string>

#include "common/checksum.hpp"
#include "common/le_codec.hpp"

namespace tessel::oplog {

namespace {

constexpr std::size_t checksum_at = 0;
constexpr std::size_t body_length_at = 4;
constexpr std::size_t seq_at = 8;
constexpr std::size_t kind_at = 16;
constexpr std::size_t pad_at = 17;
constexpr std::size_t key_length_at = 20;
constexpr std::size_t key_at = 24;
static_assert(key_at == record_min_bytes);

[[nodiscard]] bool known_kind(std::uint8_t k) noexcept {
  return k >= static_cast<std::uint8_t>(op_kind::put) && k <= static_cast<std::uint8_t>(op_kind::batch);
}

}  // namespace

void encode_record(std::span<std::byte> out, std::uint64_t seq, op_kind kind, key_view key, value_view value) noexcept {
  const std::size_t size = encoded_size(key.size(), value.size());
  std::byte* p = out.data();
  store_le<std::uint32_t>(p + body_length_at, static_cast<std::uint32_t>(size - record_head_bytes));
  store_le<std::uint64_t>(p + seq_at, seq);
  p[kind_at] = static_cast<std::byte>(kind);
  std::memset(p + pad_at, 0, key_length_at - pad_at);
  store_le<std::uint32_t>(p + key_length_at, static_cast<std::uint32_t>(key.size()));
  if (!key.empty()) std::memcpy(p + key_at, key.data(), key.size());
  if (!value.empty()) std::memcpy(p + key_at + key.size(), value.data(), value.size());
  // Last, over everything after the field, so the checksum covers the length as well as the body.
  store_le<std::uint32_t>(p + checksum_at, checksum32(out.subspan(body_length_at, size - body_length_at)));
}

result<decoded_record> decode_record(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() < record_head_bytes) {
    return make_error(errc::corruption, "record head cut short: " + std::to_string(bytes.size()) + " bytes");
  }
  const std::byte* p = bytes.data();
  const std::uint32_t body_length = load_le<std::uint32_t>(p + body_length_at);
  if (body_length < record_fixed_body_bytes) {
    return make_error(errc::corruption, "record body_length " + std::to_string(body_length) + " is below " +
                                            std::to_string(record_fixed_body_bytes));
  }
  const std::size_t size = record_head_bytes + body_length;
  if (size > bytes.size()) {
    return make_error(errc::corruption, "record of " + std::to_string(size) + " bytes runs past the end (" +
                                            std::to_string(bytes.size()) + " bytes left)");
  }
  const std::uint32_t stored = load_le<std::uint32_t>(p + checksum_at);
  if (const std::uint32_t actual = checksum32(bytes.subspan(body_length_at, size - body_length_at)); actual != stored) {
    return make_error(errc::corruption, "record checksum mismatch");
  }
  const auto kind = static_cast<std::uint8_t>(p[kind_at]);
  if (!known_kind(kind)) return make_error(errc::corruption, "record has unknown kind " + std::to_string(kind));
  if (p[pad_at] != std::byte{0} || p[pad_at + 1] != std::byte{0} || p[pad_at + 2] != std::byte{0}) {
    return make_error(errc::corruption, "record padding is not zero");
  }
  const std::uint32_t key_length = load_le<std::uint32_t>(p + key_length_at);
  if (key_length > body_length - record_fixed_body_bytes) {
    return make_error(errc::corruption, "record key_length " + std::to_string(key_length) + " exceeds its body of " +
                                            std::to_string(body_length) + " bytes");
  }
  decoded_record out;
  out.size = size;
  out.record.seq = load_le<std::uint64_t>(p + seq_at);
  out.record.kind = static_cast<op_kind>(kind);
  out.record.key = bytes.subspan(key_at, key_length);
  out.record.value = bytes.subspan(key_at + key_length, size - key_at - key_length);
  return out;
}

}  // namespace tessel::oplog
