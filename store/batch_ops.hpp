// The ops of an atomic batch of writes, and their encoding: the body of a shard's own batch record
// (oplog::op_kind::batch: one record of one store's log, so it replays whole or not at all) and of each part
// of a cross-shard batch record (store/cross_shard_batch.hpp). docs/format.md §Batch records.
//
// Encoding, little endian: u32 ops; per op: u8 kind (0 put, 1 erase), u32 key length, u32 value length,
// key, value.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessel/error.hpp"

#include "common/le_codec.hpp"

namespace tessel::detail {

/// Views into what the batch was built from (the caller's write_ops) or decoded from (a record): a batch is
/// applied while those live, so it copies no key or value.
struct batch_op {
  bool erase = false;
  std::string_view key;
  std::string_view value;
};

/// Reads fields off an encoding; a read past its end makes it bad instead of reading on.
class field_reader {
 public:
  explicit field_reader(std::string_view s) noexcept : s_(s) {}
  template <class T>
  T le() noexcept {
    if (s_.size() - at_ < sizeof(T)) {
      bad_ = true;
      return T{};
    }
    const T v = load_le<T>(reinterpret_cast<const std::byte*>(s_.data() + at_));
    at_ += sizeof(T);
    return v;
  }
  std::string_view bytes(std::size_t n) noexcept {
    if (s_.size() - at_ < n) {
      bad_ = true;
      return {};
    }
    const std::string_view v = s_.substr(at_, n);
    at_ += n;
    return v;
  }
  /// Marks the encoding bad: a field read fine but means nothing.
  void fail() noexcept { bad_ = true; }
  [[nodiscard]] bool bad() const noexcept { return bad_; }
  [[nodiscard]] bool done() const noexcept { return !bad_ && at_ == s_.size(); }

 private:
  std::string_view s_;
  std::size_t at_ = 0;
  bool bad_ = false;
};

/// A bound on the tree bytes applying `ops` allocates, for making room first (mapped_region::ensure_room):
/// per put its leaf, and per op the nodes it adds or grows and a copy of each node on its path
/// (copy-on-write after a commit), counting up to eight path nodes of the largest kind and 16 MiB of nodes
/// in all. A deeper path, or a batch large enough to reach that cap, could still need more: it then fails
/// halfway, as without the bound.
[[nodiscard]] std::uint64_t room_for_ops(std::span<const batch_op> ops) noexcept;

/// Bytes encode_ops appends for `ops`.
[[nodiscard]] std::size_t encoded_ops_size(std::span<const batch_op> ops) noexcept;
/// Appends the encoding of `ops` to `out`. Throws std::bad_alloc.
void encode_ops(std::span<const batch_op> ops, std::string& out);
/// Reads one encoding of ops from `in` into `ops` (appended; views into what `in` reads). Returns false,
/// `in` then bad, when it runs past the end or names an unknown operation. Throws std::bad_alloc.
[[nodiscard]] bool read_ops(field_reader& in, std::vector<batch_op>& ops);
/// The ops `encoded` holds, and nothing after them. Errors: corruption naming what does not parse, no_memory.
[[nodiscard]] result<std::vector<batch_op>> decode_ops(std::string_view encoded) noexcept;

}  // namespace tessel::detail
