// The operation log's record codec: one logged write (put, erase, clear) as a self-checking run of bytes.
//
// Layout (little endian; docs/format.md, "Operation log", is the reference):
//   u32 checksum     checksum32 (low half of XXH3-64) of every byte after this field
//   u32 body_length  bytes after this 8-byte head: 16 + key length + value length
//   u64 seq          the record's sequence number
//   u8  kind         op_kind (1 put, 2 erase, 3 clear, 4 batch)
//   u8[3]            zero
//   u32 key_length
//   key bytes, then value bytes (value length = body_length - 16 - key_length)
// An all-zero head can never decode (body_length 0 is below the minimum), which is what lets a reader treat
// zeros as the end of a preallocated segment.
//
// Thread safety: stateless; views returned by decode_record borrow the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tessel/bytes.hpp"
#include "tessel/error.hpp"

namespace tessel::oplog {

/// What a record does. Values are stored on disk: never renumber. A batch (key empty, the value its ops as
/// store/batch_ops.hpp encodes them) is applied whole or not at all; it appears only in segments of format
/// version 2 and in pools with the batch-record feature, which older builds refuse to open.
enum class op_kind : std::uint8_t { put = 1, erase = 2, clear = 3, batch = 4 };

/// One decoded record. key and value borrow the bytes it was decoded from (or the caller's, when encoding).
struct record_view {
  std::uint64_t seq = 0;
  op_kind kind = op_kind::put;
  key_view key;
  value_view value;
};

/// checksum + body_length.
inline constexpr std::size_t record_head_bytes = 8;
/// seq + kind + pad + key_length: the smallest legal body_length.
inline constexpr std::size_t record_fixed_body_bytes = 16;
/// The head and the fixed body: the size of a record with an empty key and value.
inline constexpr std::size_t record_min_bytes = record_head_bytes + record_fixed_body_bytes;
/// The largest record the format can hold: body_length is a u32.
inline constexpr std::size_t record_max_bytes = record_head_bytes + std::size_t{UINT32_MAX};

/// Bytes a record with these key and value lengths occupies. The caller checks the result against
/// record_max_bytes (tessel's own key and value limits keep every store write far below it).
[[nodiscard]] constexpr std::size_t encoded_size(std::size_t key_len, std::size_t value_len) noexcept {
  return record_min_bytes + key_len + value_len;
}

/// Writes the record into out[0, encoded_size(key.size(), value.size())).
/// REQUIRES: out is at least that long and the size is at most record_max_bytes.
void encode_record(std::span<std::byte> out, std::uint64_t seq, op_kind kind, key_view key, value_view value) noexcept;

/// A record decoded from the front of a buffer, and how many bytes it took.
struct decoded_record {
  record_view record;
  std::size_t size = 0;
};

/// Decodes the record at the front of `bytes`; what follows it is ignored. The views in the result borrow
/// `bytes`. Errors (all errc::corruption, the message saying which): fewer than 8 bytes; body_length below
/// 16; a record running past the end of `bytes`; checksum mismatch; unknown kind; nonzero padding;
/// key_length past the body. The checksum is checked before the fields it covers, so a torn record reports
/// "checksum mismatch" rather than whatever its garbage happens to contain.
[[nodiscard]] result<decoded_record> decode_record(std::span<const std::byte> bytes) noexcept;

}  // namespace tessel::oplog
