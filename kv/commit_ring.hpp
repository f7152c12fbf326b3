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
// The records can be saved as bytes and restored into another ring (a durable kv store keeps its history
// across a clean close: kv/saved_history.hpp). Seqs rise from record to record but need not follow each
// other: a restored history ends at an earlier opening's last seq, and this opening's seqs start higher.
//
// Thread safety: none; the hub calls it under its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
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
  /// header of 16 bytes per commit and 24 per change). It holds every commit after `complete_after`:
  /// none yet.
  commit_ring(std::size_t max_commits, std::size_t max_bytes, std::uint64_t complete_after = 0) noexcept
      : max_commits_(max_commits), max_bytes_(max_bytes), complete_after_(complete_after) {}

  /// Keeps commit `seq`, which is after every kept one and after complete_after(), dropping the oldest
  /// commits beyond the limits. A commit larger than the byte limit empties the ring instead: what it
  /// holds must be every commit after complete_after(). Throws std::bad_alloc when the ring cannot grow;
  /// it is then empty, complete after `seq`.
  void append(std::uint64_t seq, std::span<const change> changes);
  /// Forgets every commit up to `seq`, which is at or after every kept one: the ring is empty and
  /// complete after `seq`.
  void clear(std::uint64_t seq) noexcept;

  [[nodiscard]] bool empty() const noexcept { return commits_ == 0; }
  [[nodiscard]] std::size_t commits() const noexcept { return commits_; }
  /// The seq every kept commit is after, and every commit after it is kept (up to the newest appended):
  /// the oldest seq a watch can resume from.
  [[nodiscard]] std::uint64_t complete_after() const noexcept { return complete_after_; }
  /// Bytes of memory the ring holds now.
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// Calls `visit` with each kept commit whose seq is after `after`, oldest first; its changes view the
  /// ring and last until `visit` returns. Throws std::bad_alloc (the changes of one commit are listed
  /// in a vector).
  void for_each_after(std::uint64_t after,
                      function_ref<void(std::uint64_t seq, std::span<const change> changes)> visit) const;

  /// Appends to `out` the newest records that fit in `max_bytes`, oldest first, in the layout below
  /// (docs/format.md §KV entries). Returns the seq the saved records are complete after: complete_after()
  /// when all fit, else the newest record's left out. Throws std::bad_alloc.
  std::uint64_t save(std::string& out, std::size_t max_bytes) const;
  /// Appends the records save() wrote, as append() would (this ring's limits apply). False, leaving the
  /// records before the first bad one, when `records` does not parse: a size past its end, an unknown
  /// change type, a seq not after the one before (and complete_after()) or after `up_to`. Throws
  /// std::bad_alloc.
  [[nodiscard]] bool restore(std::span<const std::byte> records, std::uint64_t up_to);

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
  /// Empties the ring without changing complete_after().
  void reset_positions() noexcept;
  [[nodiscard]] commit_header header_at(std::size_t offset) const noexcept;
  /// The `count` changes in a record's bytes after its header, as views of them; false when they do not
  /// parse (sizes past the end, an unknown type, more than padding after the last).
  [[nodiscard]] static bool decode_changes(std::span<const std::byte> body, std::uint32_t count,
                                           std::vector<change>& changes);
  /// Calls `visit` with each kept record's header and first byte, oldest first.
  void for_each_record(function_ref<void(const commit_header& h, const std::byte* record)> visit) const;

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
  std::uint64_t complete_after_;
};

}  // namespace tessel::detail
