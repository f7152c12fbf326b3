// The history a kv store's watch hub keeps so that a watch can resume from an earlier seq (docs/kv.md
// §Watch): the changes of the most recent commits, encoded back to back in one byte ring.
//
// Why a ring of bytes and not a queue of commits holding strings: every commit of every writer lands here.
// A queue allocates a vector and two strings per change and frees the oldest commit's, whose memory has
// long left the cache -- measured at 60-100 ns of a 1 µs kv set. In the ring a commit is one copy of its
// keys and values into memory that is reused in order, and dropping the oldest commits moves an offset
// without reading them. The ring grows by doubling up to its byte limit, so a store that writes little
// holds little.
//
// Thread safety: none; the hub calls it under its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "tessel/function_ref.hpp"
#include "tessel/kv_store.hpp"

namespace tessel::detail {

/// One key's change within a commit. Views: of the writer's key and value while it publishes, of the
/// ring's bytes while a replay visits them.
struct change {
  kv_event_type type = kv_event_type::updated;
  std::string_view key;
  std::uint64_t version = 0;
  std::string_view value;  // created / updated
};

class commit_ring {
 public:
  /// Keeps at most `max_commits` commits in at most `max_bytes` bytes (their keys and values and a
  /// header of 16 bytes per commit and 24 per change).
  commit_ring(std::size_t max_commits, std::size_t max_bytes) noexcept
      : max_commits_(max_commits), max_bytes_(max_bytes) {}

  /// Keeps commit `seq` -- the seq after the newest kept one, unless the ring is empty -- dropping the
  /// oldest commits beyond the limits. A commit larger than the byte limit empties the ring instead: the
  /// seqs kept must follow each other. Throws std::bad_alloc when the ring cannot grow; it is then empty.
  void append(std::uint64_t seq, std::span<const change> changes);
  void clear() noexcept;

  [[nodiscard]] bool empty() const noexcept { return commits_ == 0; }
  [[nodiscard]] std::size_t commits() const noexcept { return commits_; }
  /// The seq of the oldest commit kept. REQUIRES: !empty().
  [[nodiscard]] std::uint64_t oldest_seq() const noexcept { return oldest_seq_; }
  /// Bytes of memory the ring holds now.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// Calls `visit` with each kept commit whose seq is after `after`, oldest first; its changes view the
  /// ring and last until `visit` returns. Throws std::bad_alloc (the changes of one commit are listed
  /// in a vector).
  void for_each_after(std::uint64_t after,
                      function_ref<void(std::uint64_t seq, std::span<const change> changes)> visit) const;

 private:
  /// The record of a commit: this header, then per change a change_header, its key and its value, the
  /// whole padded to 8 bytes.
  struct commit_header {
    std::uint64_t seq;
    std::uint32_t changes;
    std::uint32_t bytes;  // of the whole record
  };
  struct change_header {
    std::uint64_t version;
    std::uint32_t key_size;
    std::uint32_t value_size;
    std::uint8_t type;
    std::uint8_t unused[7];
  };

  [[nodiscard]] static std::size_t record_size(std::span<const change> changes) noexcept;
  /// Where a record of `bytes` fits now, or nullptr. Wraps to the start when the end has no room.
  [[nodiscard]] std::byte* reserve(std::size_t bytes) noexcept;
  /// Moves the live records to a buffer of `bytes`, oldest at its start.
  void grow(std::size_t bytes);
  void drop_oldest() noexcept;
  [[nodiscard]] commit_header header_at(std::size_t offset) const noexcept;

  const std::size_t max_commits_;
  const std::size_t max_bytes_;
  std::unique_ptr<std::byte[]> buffer_;
  std::size_t capacity_ = 0;
  // Live records are [head_, tail_) when !wrapped_; else [head_, end_) and then [0, tail_).
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
  std::size_t end_ = 0;
  bool wrapped_ = false;
  std::size_t commits_ = 0;
  std::uint64_t oldest_seq_ = 0;
};

}  // namespace tessel::detail
